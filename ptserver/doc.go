// Package ptserver is the server half of water-pt: for each bind address
// tor gives (TOR_PT_SERVER_BINDADDR) it listens, and every inbound
// connection gets its own WATM instance in the listener role: host_accept
// hands the module that connection, and the unwrapped stream goes to tor's
// ExtORPort (authenticated with SAFE_COOKIE, with USERADDR = the client's
// address and TRANSPORT = water), or to the ORPort when tor has no
// ExtORPort.
//
// The module and its config come from ServerTransportOptions (watm=,
// watm-sha256=, watm-config=, watm-client-config=). The SMETHOD line
// advertises in ARGS exactly what a client needs: watm= (the module's name),
// watm-sha256= and, when the operator gives one, the client's config.
package ptserver
