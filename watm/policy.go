package watm

// AllowTCP is a DialPolicy that lets a module dial the given "host:port"
// addresses over TCP (network "tcp", "tcp4" or "tcp6") and nothing else;
// the address "*" allows any address.
func AllowTCP(addrs ...string) DialPolicy {
	allowed := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		allowed[a] = true
	}
	return func(network, address string) bool {
		return isTCP(network) && (allowed["*"] || allowed[address])
	}
}
