package modules

// Args returns the argument keys the embedded module name takes in a role
// (client: the dialer; server: the listener), so that water-pt can refuse a
// key no one takes (a typo such as wtam=) before the module runs; ok is
// false for a name not in the table. The modules check their arguments
// themselves too (guest.Args); this table must say what they say.
func Args(name string, server bool) (keys []string, ok bool) {
	switch name {
	case "plain", "plain_v1", "reverse":
		return nil, true
	case "obfs4":
		if server {
			return []string{"drbg-seed", "iat-mode", "node-id", "private-key"}, true
		}
		return []string{"cert", "iat-mode", "node-id", "public-key"}, true
	}
	return nil, false
}
