package watm

import "context"

// CheckConfig starts an instance with cfg as its config and runs only the
// module's init, where a module refuses a config it cannot use (the guest
// SDK's guest.Args refuses unknown keys there); then drops the instance.
// A server calls it at start-up, so that a bad ServerTransportOptions is an
// SMETHOD-ERROR rather than a failure on every connection. It is bounded
// like a connection's set-up: by ctx and the runtime's set-up timeout.
func (m *Module) CheckConfig(ctx context.Context, cfg []byte) error {
	sctx, cancel := m.rt.setupContext(ctx)
	defer cancel()
	in, err := newInstance(sctx, m)
	if err != nil {
		return err
	}
	defer in.release()
	in.configure(ConnConfig{Config: cfg})
	return in.bounded(sctx, in.init)
}
