;; exit_in_worker: a complete v0 dialer whose _water_worker calls
;; proc_exit(3).
;; Expected: the connection ends with an error saying the module exited with
;; code 3 (e.g. wrapping wazero's *sys.ExitError with ExitCode() == 3); the
;; instance is closed; other connections and the runtime are unaffected.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "env" "host_dial" (func $host_dial (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32)
    (call $proc_exit (i32.const 3))
    (unreachable))
)
