package watm

// Work ahead of a connection: a module may export aheadExport, which the
// pool calls in each instance it makes ready (new or restored, after the
// reseed, before any init), on its idle-priority thread, with no config.
// The module does there what every connection will need and what depends
// on no config and on no other instance: the obfs4 module draws its
// ephemeral handshake key pair, which is otherwise most of a millisecond of
// each side's set-up in WebAssembly. An instance serves one connection, so
// what it draws ahead is used once. Instances made on a connection's path
// (the pool empty) and a snapshot's template never run it: a module must
// do the same work itself when it finds it not done. A failing call turns
// it off for the module (the instance is made again without it).

// aheadExport is the export, () -> i32: 0 on success, a negated errno when
// it fails.
const aheadExport = "waterpt_ahead"

// ahead calls the module's aheadExport.
func (in *instance) ahead() error {
	r, err := in.call(aheadExport)
	if err == nil && r != 0 {
		err = in.failed(aheadExport, r)
	}
	return err
}
