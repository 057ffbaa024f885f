// Package ptclient holds the building blocks of water-pt's client side: what
// sits between tor's SOCKS5 connection and the dial toward a bridge.
//
// The pipeline, in the order data flows:
//
//  1. tor connects to our CMETHOD port and speaks SOCKS5. [ReadRequest] reads
//     exactly the bytes of that handshake (RFC 1928 and RFC 1929), nothing
//     more, so whatever tor sends after its CONNECT request is still in the
//     socket for the transport to read. Run each handshake in the
//     connection's own goroutine, under its own deadline, so that a slow
//     client stalls nobody else (goptlib's SocksListener.AcceptSocks runs
//     them one at a time inside Accept).
//  2. The Bridge line's k=v arguments arrive in the SOCKS username and
//     password; [ArgsFromAuth] decodes them as tor encodes them
//     ([EncodeArgs] is the encoder, for tests and harnesses).
//  3. The dial toward the bridge goes through TOR_PT_PROXY when tor sets one
//     ([ParseProxyURL], [ProxyDialer]) and from the source address of
//     TOR_PT_OUTBOUND_BIND_ADDRESS_V4/_V6 ([ParseOutboundBind]).
//  4. The outcome goes back to tor as [Request.Grant] or [Request.Reject],
//     with a reply code that says why a dial failed ([ReplyForError]).
//
// Every dialer here returns the connection its forward dialer made, never a
// wrapper: with the default dialers that is a *net.TCPConn whose file
// descriptor can be handed on.
//
// Test doubles for the upstream proxies are in package proxytest.
package ptclient
