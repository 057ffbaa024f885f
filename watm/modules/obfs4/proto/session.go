package proto

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand"
	"net"
	"time"
)

// timing holds the protocol clock (the epoch hour and the replay filter's
// time) and lyrebird's handshake limits; tests skew the one and shorten the
// others. Deadlines always use the real clock. It also carries the
// Options' frame cipher maker (nil: NativeSecretBox) and curve arithmetic.
type timing struct {
	now         func() time.Time
	clientLimit time.Duration
	serverLimit time.Duration
	newBox      NewSecretBox
	curve       Curve
	key         *sessionKey // drawn ahead, or nil
}

// sessionKey returns the key drawn ahead, or draws one.
func (tm timing) sessionKey(rnd io.Reader) (*sessionKey, error) {
	if tm.key != nil {
		return tm.key, nil
	}
	return newSessionKey(tm.curve, rnd)
}

func defaultTiming() timing {
	return timing{now: time.Now, clientLimit: clientHandshakeLimit, serverLimit: serverHandshakeLimit, curve: NativeCurve{}}
}

// setKeys keys the encoder with enc and the decoder with dec.
func (c *conn) setKeys(enc, dec *[frameKeyLength]byte, newBox NewSecretBox) error {
	e, err := newFrameCrypto(enc, newBox)
	if err != nil {
		return err
	}
	d, err := newFrameCrypto(dec, newBox)
	if err != nil {
		return err
	}
	c.enc.frameCrypto, c.dec.frameCrypto = *e, *d
	return nil
}

func clientHandshake(nc net.Conn, args ClientArgs, rnd io.Reader, tm timing) (net.Conn, error) {
	if args.IATMode < iatNone || args.IATMode > iatParanoid {
		return nil, fmt.Errorf("obfs4: iat-mode %d is not 0, 1 or 2", args.IATMode)
	}
	co := newCoins(rnd)
	key, err := tm.sessionKey(rnd)
	if err != nil {
		return nil, err
	}
	var seed [drbgSeedLength]byte
	if _, err := io.ReadFull(rnd, seed[:]); err != nil {
		return nil, fmt.Errorf("obfs4: reading randomness: %w", err)
	}
	pad, err := randomPad(co, rnd, clientMinPadLength, clientMaxPadLength)
	if err != nil {
		return nil, err
	}
	if err := nc.SetDeadline(time.Now().Add(tm.clientLimit)); err != nil {
		return nil, fmt.Errorf("obfs4: the connection must support deadlines: %w", err)
	}
	h := handshakeMAC(&args.PublicKey, &args.NodeID)
	msg, e := clientHello(h, key, pad, tm.now())
	if _, err := nc.Write(msg); err != nil {
		return nil, fmt.Errorf("obfs4: sending the client handshake: %w", err)
	}

	c := newConn(nc, false, args.IATMode, co, nil)
	hsLen, err := c.readServerHello(h, e)
	if err != nil {
		return nil, err
	}
	var y [32]byte
	copy(y[:], c.rbuf[:32])
	serverY := publicFromRepresentative(&y)
	res, err := ntorClient(tm.curve, key, &serverY, &args.PublicKey, &args.NodeID)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(res.auth[:], c.rbuf[32:64]) {
		return nil, errBadAuth
	}
	c.roff = hsLen
	c2s, s2c := sessionKeys(&res.keySeed)
	if err := c.setKeys(&c2s, &s2c, tm.newBox); err != nil {
		return nil, err
	}
	// The server's PRNG seed frame comes with its handshake: use it now,
	// and draw our own distribution only if it is not there.
	if err := c.decodeBuffered(); err != nil {
		return nil, err
	}
	if c.lenDist == nil {
		c.setDists(&seed)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("obfs4: clearing the handshake deadline: %w", err)
	}
	return c, nil
}

// readServerHello reads into rbuf until it holds the whole server
// handshake, and returns its length; what follows it stays buffered.
func (c *conn) readServerHello(h hash.Hash, e []byte) (int, error) {
	for {
		n, err := c.Conn.Read(c.rbuf[c.rend:])
		c.rend += n
		hsLen, ferr := findServerMark(h, c.rbuf[:c.rend], e)
		if ferr == nil {
			return hsLen, nil
		}
		if !errors.Is(ferr, errMarkNotFound) {
			return 0, ferr
		}
		if err != nil {
			return 0, fmt.Errorf("obfs4: reading the server handshake: %w", err)
		}
	}
}

func randomPad(co *coins, rnd io.Reader, lo, hi int) ([]byte, error) {
	n, err := co.intRange(lo, hi)
	if err != nil {
		return nil, err
	}
	pad := make([]byte, n)
	if _, err := io.ReadFull(rnd, pad); err != nil {
		return nil, fmt.Errorf("obfs4: reading randomness: %w", err)
	}
	return pad, nil
}

func serverHandshake(nc net.Conn, id *ServerIdentity, replay ReplayFilter, rnd io.Reader, tm timing) (net.Conn, error) {
	if id == nil || replay == nil {
		return nil, errors.New("obfs4: ServerHandshake needs a ServerIdentity and a ReplayFilter (NewMemReplayFilter, or the host's)")
	}
	if id.IATMode < iatNone || id.IATMode > iatParanoid {
		return nil, fmt.Errorf("obfs4: iat-mode %d is not 0, 1 or 2", id.IATMode)
	}
	start := time.Now()
	// The session key comes first, before any byte is read, so that its
	// rejection sampling does not show in the response time (as lyrebird).
	key, err := tm.sessionKey(rnd)
	if err != nil {
		return nil, err
	}
	co := newCoins(rnd)
	c, err := acceptClient(nc, id, replay, rnd, co, key, start, tm)
	if err != nil {
		closeAfterDelay(nc, id, start, tm)
		return nil, err
	}
	return c, nil
}

func acceptClient(nc net.Conn, id *ServerIdentity, replay ReplayFilter, rnd io.Reader, co *coins, key *sessionKey, start time.Time, tm timing) (*conn, error) {
	if err := nc.SetDeadline(start.Add(tm.serverLimit)); err != nil {
		return nil, fmt.Errorf("obfs4: the connection must support deadlines: %w", err)
	}
	h := handshakeMAC(&id.PublicKey, &id.NodeID)
	var buf [maxHandshakeLength]byte
	n, pos := 0, 0
	for {
		r, err := nc.Read(buf[n:])
		n += r
		var ferr error
		if pos, ferr = findClientMark(h, buf[:n]); ferr == nil {
			break
		} else if !errors.Is(ferr, errMarkNotFound) {
			return nil, ferr
		}
		if err != nil {
			return nil, fmt.Errorf("obfs4: reading the client handshake: %w", err)
		}
	}
	now := tm.now()
	e, err := checkClientMAC(h, buf[:n], pos, now)
	if err != nil {
		return nil, err
	}
	if replay.TestAndSet(now, buf[pos+markLength:pos+markLength+macLength]) {
		return nil, errReplay
	}
	if n != pos+markLength+macLength {
		return nil, errTrailingGarbage
	}
	var x [32]byte
	copy(x[:], buf[:32])
	clientX := publicFromRepresentative(&x)
	res, err := ntorServer(tm.curve, key, &clientX, id)
	if err != nil {
		return nil, err
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("obfs4: clearing the handshake deadline: %w", err)
	}
	c2s, s2c := sessionKeys(&res.keySeed)
	// The distributions are drawn after the reply is sent (below): nothing
	// written before needs them, and the client works on the reply then.
	c := newConn(nc, true, id.IATMode, co, nil)
	if err := c.setKeys(&s2c, &c2s, tm.newBox); err != nil {
		return nil, err
	}

	pad, err := randomPad(co, rnd, 0, serverMaxPadLength)
	if err != nil {
		return nil, err
	}
	msg := serverHello(h, key, &res.auth, pad, e)
	// The PRNG seed frame goes with the handshake, unpadded.
	if msg, err = c.enc.appendPacket(msg, packetTypePRNGSeed, id.DRBGSeed[:], 0); err != nil {
		return nil, err
	}
	if err := c.enc.seal(msg); err != nil {
		return nil, err
	}
	if _, err := nc.Write(msg); err != nil {
		return nil, fmt.Errorf("obfs4: sending the server handshake: %w", err)
	}
	c.setDists(&id.DRBGSeed)
	return c, nil
}

// closeParams draws lyrebird's per-identity probe budget: math/rand over
// the hash DRBG seeded with the identity's seed, first the byte budget in
// [0, 8192), then the extra delay in whole seconds in [0, 60).
func closeParams(seed *[drbgSeedLength]byte) (budget int, delay time.Duration) {
	d := newHashDRBG(seed)
	rng := rand.New(&d)
	budget = rng.Intn(maxHandshakeLength)
	delay = time.Duration(rng.Intn(60)) * time.Second
	return budget, delay
}

// closeAfterDelay is lyrebird's answer to a failed handshake: send
// nothing, and read and discard until the handshake limit plus the
// identity's delay has passed since start, or the byte budget is used up,
// or the peer closes.
func closeAfterDelay(nc net.Conn, id *ServerIdentity, start time.Time, tm timing) {
	budget, delay := closeParams(&id.DRBGSeed)
	deadline := start.Add(tm.serverLimit + delay)
	if !time.Now().Before(deadline) {
		return
	}
	if err := nc.SetReadDeadline(deadline); err != nil {
		time.Sleep(deadline.Sub(time.Now()))
		return
	}
	var buf [maxSegmentLength]byte
	for discarded := 0; discarded < budget; {
		n, err := nc.Read(buf[:])
		discarded += n
		if err != nil {
			return // the deadline, or the peer went away
		}
	}
}
