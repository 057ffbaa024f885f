;; trap_init: a complete v0 dialer whose _water_init executes `unreachable`.
;; Expected: loads fine; every connection fails before the role entry runs,
;; with an error that names _water_init and says it trapped (wazero:
;; "wasm error: unreachable"). host_dial is never called, and the instance
;; is closed (nothing leaks).
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (unreachable))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32) (i32.const 0))
)
