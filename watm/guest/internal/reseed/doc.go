// Package reseed gives a Go WATM fresh runtime randomness after the host
// cloned it from a snapshot taken after _initialize.
//
// A host that snapshots an initialised instance and maps that memory
// copy-on-write into every connection's instance would otherwise give every
// connection the same Go runtime random state: the chacha8 generator behind
// math/rand, math/rand/v2, map iteration order, select's choice and new maps'
// hash seeds. crypto/rand is not affected (it calls random_get at every
// read).
//
// Built with the tag waterpt_reseed (and -ldflags=-checklinkname=0, since it
// reaches into the runtime by go:linkname), the package exports
//
//	waterpt_reseed() -> i32
//
// which draws a new seed from random_get into the runtime's global
// generator and re-derives the (only, on wasm) M's generators from it,
// exactly as the runtime does at start-up. It returns 0, or a negated WASI
// errno when it cannot reseed soundly: EIO when random_get failed, ENOTSUP
// when the runtime's state is not laid out as this package expects. Only
// Go 1.26's layout (lock ranking off, the default) is known, and the file
// is built for it only: with any other toolchain, or without the tag,
// there is no export and a host does not snapshot the module.
//
// What stays shared by the clones, deliberately: the hash key of the
// runtime's memhash (hashkey; every existing map depends on it, as in any
// Go process) and the seeds of maps and sync.Maps built during init (their
// contents are laid out by them). Maps made after the reseed get fresh
// seeds, and iteration order comes from the reseeded generator. State a
// module's own init derives from randomness (a key made at init) would be
// shared too: a module that exports this hook declares it has none.
package reseed
