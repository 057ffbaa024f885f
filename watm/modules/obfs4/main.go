//go:build wasip1

// Command obfs4 is the obfs4 WATM (WATER v0): the obfs4 protocol of
// lyrebird and obfs4proxy (package proto) behind the connection-level guest
// SDK, so a water-pt client reaches obfs4 bridges and a water-pt bridge
// keeps an obfs4 bridge line.
//
// Args (the module's config, in the PT-args form guest.Args reads):
//
//	dialer (client):    cert=CERT;iat-mode=0|1|2
//	                    or node-id=HEX40;public-key=HEX64;iat-mode=0|1|2
//	listener (server):  node-id=HEX40;private-key=HEX64;drbg-seed=HEX48;iat-mode=0|1|2
//
// The client runs the obfs4 handshake on the network conn the host dialed;
// a failure fails the dial (a SOCKS request) with the reason in the host's
// log. The server runs it on the conn the host accepted, with a replay
// filter kept by the host across connections (water_seen); a failed
// handshake sends nothing, and the conn is closed only after the spec's
// delay and byte budget (proto.ServerHandshake waits them out). There is
// no relay role.
//
// Frames are sealed and opened by the host's secretbox service
// (guest/hostcrypto) when the host offers one, several per host call, and
// the handshake's scalar multiplications are done by its curve25519
// service; both in WebAssembly otherwise: the module runs on any WATER
// host, faster on one with the services.
//
// v0, not v1: it is the ABI of the other shipped modules, pull_config hands
// the args over in one call where v1 needs a /conf preopen per instance,
// and v0's _water_dial means the same to every host, where v1's dial
// exports are read differently by different hosts (watm-abi.md).
package main

import (
	"crypto/rand"
	"errors"
	"net"
	"time"

	"github.com/water-pt/water-pt/watm/guest"
	"github.com/water-pt/water-pt/watm/guest/hostcrypto"
	"github.com/water-pt/water-pt/watm/guest/stream"
	_ "github.com/water-pt/water-pt/watm/guest/v0"
	"github.com/water-pt/water-pt/watm/modules/obfs4/proto"
)

func init() { stream.Register(&transport{}) }

func main() {}

// replayTTL is how long a client handshake MAC is remembered: lyrebird's
// 3 hours, longer than the epoch-hour window a handshake is valid in.
const replayTTL = 3 * time.Hour

type transport struct {
	client *proto.ClientArgs     // dialer args
	server *proto.ServerIdentity // listener args
	key    *proto.SessionKey     // drawn by Ahead, for the one handshake
}

// Ahead draws the handshake's session key before the connection (the host
// calls it in an instance it keeps ready): the draw is the same for either
// role and needs no args, and an instance serves one connection.
func (t *transport) Ahead() error {
	opts, done := options()
	defer done()
	k, err := proto.NewSessionKey(opts.Curve, rand.Reader)
	if err != nil {
		return err
	}
	t.key = k
	return nil
}

// handshakeOptions are options() with the key drawn ahead, if any, which
// no later handshake may use again.
func (t *transport) handshakeOptions() (proto.Options, func()) {
	opts, done := options()
	opts.SessionKey, t.key = t.key, nil
	return opts, done
}

// Init reads the args: a server identity if private-key is given, else the
// client's. No args at all is accepted here (the host may initialise an
// instance before it has a connection) and refused by WrapConn.
func (t *transport) Init([]byte) error {
	a, err := guest.Args("cert", "node-id", "public-key", "private-key", "drbg-seed", "iat-mode")
	if err != nil || len(a) == 0 {
		return err
	}
	get := func(k string) (string, bool) { v, ok := a[k]; return v, ok }
	if _, ok := a["private-key"]; ok {
		opts, done := options()
		defer done()
		t.server, err = opts.ServerIdentityFromArgs(get)
		return err
	}
	c, err := proto.ParseClientArgs(get)
	if err != nil {
		return err
	}
	t.client = &c
	return nil
}

var errNoArgs = errors.New("obfs4 needs args: cert= and iat-mode= (client), or node-id=, private-key=, drbg-seed= and iat-mode= (server)")

func (t *transport) WrapConn(role guest.Role, network net.Conn) (net.Conn, error) {
	switch role {
	case guest.RoleDialer:
		if t.client == nil {
			return nil, t.missing("a client")
		}
		opts, done := t.handshakeOptions()
		defer done()
		return opts.ClientHandshake(network, *t.client, rand.Reader)
	case guest.RoleListener:
		if t.server == nil {
			return nil, t.missing("a server")
		}
		opts, done := t.handshakeOptions()
		defer done()
		return opts.ServerHandshake(network, t.server, hostReplay{}, rand.Reader)
	}
	return nil, errors.New("obfs4 has no " + role.String() + " role")
}

func (t *transport) missing(what string) error {
	if t.client == nil && t.server == nil {
		return errNoArgs
	}
	if t.server != nil {
		return errors.New("obfs4 is " + what + " here but was given server args (private-key=)")
	}
	return errors.New("obfs4 is " + what + " here but was given client args (cert=)")
}

// hostReplay is the server's replay filter: water_seen, shared by every
// connection's instance. A host error counts as a replay (fail closed).
type hostReplay struct{}

func (hostReplay) TestAndSet(_ time.Time, key []byte) bool {
	seen, err := stream.Seen(key, replayTTL)
	return seen || err != nil
}

// options has a handshake seal and open frames with newSecretBox, and do
// its scalar multiplications with the host's curve25519 service when the
// host offers one (in WebAssembly otherwise, or if opening it fails: only
// slower). done closes the service once the handshake (or the server
// identity's public key) is done.
func options() (opts proto.Options, done func()) {
	opts.NewSecretBox = newSecretBox
	c, err := hostcrypto.OpenCurve()
	if err != nil {
		return opts, func() {}
	}
	opts.Curve = c
	return opts, func() { c.Close() }
}

// newSecretBox is the host's secretbox service for key, or x/crypto's
// secretbox in WebAssembly when the host has none.
func newSecretBox(key *[32]byte) (proto.SecretBox, error) {
	b, err := hostcrypto.OpenSecretBox(key)
	if errors.Is(err, hostcrypto.ErrUnavailable) {
		return proto.NativeSecretBox(key)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}
