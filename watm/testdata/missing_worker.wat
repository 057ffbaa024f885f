;; missing_worker: a v0 module (marker, _water_init, _water_cancel_with,
;; _water_dial, memory) that does not export _water_worker.
;; Expected: rejected at load; the error names the missing export
;; "_water_worker".
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
)
