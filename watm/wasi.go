package watm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/water-pt/water-pt/watm/internal/spec"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
)

// The host module names a WATM imports from.
const (
	wasiModuleName = wasip1.ModuleName
	envModuleName  = spec.EnvModule
)

// instanceKey finds the calling instance in the context every call into a
// module carries.
type instanceKey struct{}

func instanceOf(ctx context.Context) *instance {
	in, _ := ctx.Value(instanceKey{}).(*instance)
	if in == nil {
		panic(fmt.Errorf("watm: host function called outside a WATM connection"))
	}
	return in
}

// wasiOf is what a WASI function runs on: the calling instance's Context.
func wasiOf(ctx context.Context) (*wasip1.Context, *wasip1.Context) {
	in := instanceOf(ctx)
	return in.wasi, in.wasi
}

// envOf is what a WATER function runs on: the calling instance.
func envOf(ctx context.Context) (*instance, *wasip1.Context) {
	in := instanceOf(ctx)
	return in, in.wasi
}

func instantiateHostModules(ctx context.Context, rt wazero.Runtime) error {
	wasi := rt.NewHostModuleBuilder(wasiModuleName)
	for _, f := range wasip1.Functions() {
		wasip1.Export(wasi, f, wasiOf)
	}
	if _, err := wasi.Instantiate(ctx); err != nil {
		return fmt.Errorf("watm: WASI host module: %w", err)
	}
	env := rt.NewHostModuleBuilder(envModuleName)
	for _, f := range envFunctions() {
		wasip1.Export(env, f, envOf)
	}
	if _, err := env.Instantiate(ctx); err != nil {
		return fmt.Errorf("watm: env host module: %w", err)
	}
	return nil
}

// wasiSignatures is the type of every WASI preview-1 function; it is
// never written.
var wasiSignatures = func() map[string]sig {
	fs := wasip1.Functions()
	m := make(map[string]sig, len(fs))
	for _, f := range fs {
		m[f.Name] = sig{f.Params, f.ResultTypes()}
	}
	return m
}()
