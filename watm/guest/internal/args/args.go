// Package args decodes a module's config written as PT args (contract 2 of
// this repository): key=value pairs joined by ";", with every "\", ";" and
// "=" inside a key or value escaped by a backslash, e.g.
//
//	cert=AbC\=\=;iat-mode=0
//
// It is plain Go, so that it is tested natively; package guest exposes it
// as guest.Args.
package args

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// No fmt here: every module built on package guest links this package,
// and fmt would add a fifth to the size of the plain module.

// ErrNone is the refusal of a module that takes no arguments.
var ErrNone = errors.New("this module takes no arguments")

// Parse decodes config and refuses any key not in known: the error is
// `unknown argument "KEY"; this module takes: k1, k2` (the known keys in
// the order given), or ErrNone when known is empty. An empty config is an
// empty map.
func Parse(config []byte, known ...string) (map[string]string, error) {
	m := map[string]string{}
	if len(config) == 0 {
		return m, nil
	}
	pairs, err := split(string(config))
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		if !slices.Contains(known, p[0]) {
			if len(known) == 0 {
				return nil, ErrNone
			}
			return nil, errors.New("unknown argument " + strconv.Quote(p[0]) + "; this module takes: " + strings.Join(known, ", "))
		}
		if _, dup := m[p[0]]; dup {
			return nil, errors.New("argument " + strconv.Quote(p[0]) + " given twice")
		}
		m[p[0]] = p[1]
	}
	return m, nil
}

// split cuts s into unescaped [key, value] pairs.
func split(s string) ([][2]string, error) {
	var (
		pairs [][2]string
		cur   [2]strings.Builder
		part  int // 0 key, 1 value
	)
	end := func() error {
		if part == 0 && cur[0].Len() == 0 {
			return errors.New("an argument is empty: args are key=value pairs separated by \";\"")
		}
		if part == 0 {
			return errors.New("argument " + strconv.Quote(cur[0].String()) + " has no value: args are key=value pairs separated by \";\"")
		}
		if cur[0].Len() == 0 {
			return errors.New("an argument has an empty key: args are key=value pairs separated by \";\"")
		}
		pairs = append(pairs, [2]string{cur[0].String(), cur[1].String()})
		cur[0].Reset()
		cur[1].Reset()
		part = 0
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 == len(s) {
				return nil, errors.New("args end in a lone backslash: escape it as \\\\")
			}
			i++
			cur[part].WriteByte(s[i])
		case c == ';':
			if err := end(); err != nil {
				return nil, err
			}
		case c == '=' && part == 0:
			part = 1
		case c == '=':
			return nil, errors.New("argument " + strconv.Quote(cur[0].String()) + " has an unescaped \"=\" in its value: escape it as \\=")
		default:
			cur[part].WriteByte(c)
		}
	}
	if err := end(); err != nil {
		return nil, err
	}
	return pairs, nil
}
