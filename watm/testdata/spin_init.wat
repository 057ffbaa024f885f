;; spin_init: a complete v0 dialer whose _water_init loops forever
;; (`loop br 0`) without calling the host.
;; Expected: loads (from a file, with loop checks); a caller that runs init
;; with a deadline (Module.CheckConfig) gets an error once the deadline
;; passes, and the instance is released.
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32)
    (loop $forever (br $forever))
    (unreachable))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32) (i32.const 0))
)
