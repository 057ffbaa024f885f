;; unknown_import: a complete v0 dialer that also imports
;; env.no_such_function: () -> ().
;; Expected: rejected at load time; the error names "env.no_such_function".
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "env" "no_such_function" (func $no_such_function))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32)
    (call $no_such_function)
    (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32) (i32.const 0))
)
