// Package extortest is a fake tor Extended ORPort for tests and benchmarks of
// pluggable-transport servers.
//
// A Server listens on 127.0.0.1, writes an auth cookie file the way tor does
// ("! Extended ORPort Auth Cookie !\n" followed by 32 random bytes), and for
// every connection plays tor's side of ext-orport-spec.txt:
//
//  1. SAFE_COOKIE authentication: it offers the auth types [0x01, 0x00], reads
//     the client's choice (must be 1) and 32-byte nonce, sends
//     HMAC-SHA256(cookie, "ExtORPort authentication server-to-client hash" |
//     client_nonce | server_nonce) and its own nonce, checks the client's
//     HMAC-SHA256(cookie, "ExtORPort authentication client-to-server hash" |
//     client_nonce | server_nonce) and answers 1 (success) or 0 and closes.
//  2. Commands (u16 type, u16 length, body) until DONE: USERADDR and TRANSPORT
//     are validated and recorded, every other command is recorded; after DONE
//     it answers OKAY (or DENY, see WithDeny).
//  3. The data phase, chosen by a Mode: Echo copies bytes back, Sink swallows
//     and counts them (optionally checking them against the deterministic
//     Stream), Source writes N bytes of the Stream and closes its write side,
//     and Dispatch lets the client pick one of those per connection with a
//     Mode.Header. Buffers start at 16 KiB and grow to 256 KiB under load:
//     idle connections are cheap and bulk transfers run at 2-3.5 GB/s on
//     loopback.
//
// Every connection becomes a Session record, including those that failed
// authentication, so a test can assert that the transport under test
// authenticated and reported the right USERADDR and TRANSPORT. A connection
// is listed once its client hash starts to arrive (or it ends): one that a
// transport keeps in reserve, authenticated and waiting, is not a session
// until a client's connection takes it (Unlisted counts those).
//
//	srv := extortest.Start(t, extortest.Echo())
//	env := tortest.ServerEnv(dir, []string{"name"}, nil, "", "", srv.Addr(), srv.CookiePath())
//	... drive the PT ...
//	sessions, err := srv.WaitSessions(ctx, 1)
//
// Stream and Checker provide the seeded pseudo-random byte stream used by Sink,
// Source and the tortest data helpers (AES-128-CTR keystream: several GB/s, so
// generating and checking data does not limit benchmarks).
package extortest
