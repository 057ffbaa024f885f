package wasip1

import (
	"runtime"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// proc_exit(rval) ends the instance: the call in progress returns an exit
// error, and ExitCode says rval. (During a TinyGo _start an exit with code
// 0 is the normal end of main: watm tolerates it.) Returns nothing.
var procExit = &Func[*Context]{Name: "proc_exit", Params: Params(i32), ParamNames: []string{"rval"},
	Results: ResultNone, Body: procExitFn}

func procExitFn(c *Context, _ api.Memory, stack []uint64) Errno {
	code := uint32(stack[0])
	c.exitCode.Store(int64(code))
	panic(sys.NewExitError(code))
}

// proc_raise(sig): signals do not exist for a WATM. Errnos: ENOSYS.
var procRaise = wasiFunc("proc_raise", procRaiseFn, Params(i32), "sig")

func procRaiseFn(*Context, api.Memory, []uint64) Errno { return ENOSYS }

// sched_yield lets other goroutines run. Errnos: none.
var schedYield = wasiFunc("sched_yield", schedYieldFn, Params())

func schedYieldFn(*Context, api.Memory, []uint64) Errno {
	runtime.Gosched()
	return ESUCCESS
}
