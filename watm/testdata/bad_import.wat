;; bad_import: a complete v0 dialer that imports env.host_dial with the wrong
;; type (i32) -> i32 (the host provides () -> i32).
;; Expected: rejected at load time (Load/compile, not at the first
;; connection); the error names "env.host_dial" (ideally with both types).
(module
  (import "env" "host_dial" (func $host_dial (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param $caller i32) (result i32)
    (call $host_dial (local.get $caller)))
  (func (export "_water_worker") (result i32) (i32.const 0))
)
