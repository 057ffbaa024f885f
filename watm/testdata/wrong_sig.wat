;; wrong_sig: a v0 dialer whose _water_dial has type (i64) -> i32 instead of
;; (i32) -> i32 and whose _water_init has type () -> i64 instead of () -> i32.
;; Everything else (marker, _water_cancel_with, _water_worker, memory) is
;; right.
;; Expected: rejected at load (before any instance is made); the error names
;; both "_water_dial" and "_water_init" (ideally with wanted and found types).
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i64) (i64.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i64) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32) (i32.const 0))
)
