package watm

import "context"

// CheckConfig starts an instance with cfg as its config and runs only the
// module's init, where a module refuses a config it cannot use (the guest
// SDK's guest.Args refuses unknown keys there); then drops the instance.
// A server calls it at start-up, so that a bad ServerTransportOptions is an
// SMETHOD-ERROR rather than a failure on every connection. ctx ending stops
// the instance (an init that never returns).
func (m *Module) CheckConfig(ctx context.Context, cfg []byte) error {
	in, err := newInstance(m)
	if err != nil {
		return err
	}
	defer in.release()
	in.configure(ConnConfig{Config: cfg})
	stopped := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { in.forceStop(); close(stopped) })
	err = in.init()
	if !stop() {
		<-stopped // release must not race the forced stop
	}
	return err
}
