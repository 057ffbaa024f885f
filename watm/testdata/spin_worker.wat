;; spin_worker: a complete v0 dialer whose _water_worker loops forever
;; (`loop br 0`) without ever calling the host, so it never looks at the
;; cancel fd and cannot be stopped cooperatively.
;; Expected: the connection sets up normally (host_dial once); closing the
;; connection (or the runtime) must stop the worker by force within the
;; host's grace period (wazero: RuntimeConfig.WithCloseOnContextDone(true)
;; and cancelling the worker's context, or closing the module). The worker's
;; end is reported as an error (closed/interrupted), and Close returns.
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32)
    (loop $forever (br $forever))
    (unreachable))
)
