;; no_marker: every v0 export (all three roles) but no version marker: neither
;; _water_v0 nor any watm_*_v1 export.
;; Expected: rejected at load with an error saying no WATM version marker was
;; found (mentioning _water_v0 / the v1 exports it looked for).
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "env" "host_accept" (func $host_accept (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_accept") (param i32) (result i32) (call $host_accept))
  (func (export "_water_associate") (result i32)
    (drop (call $host_accept))
    (drop (call $host_dial))
    (i32.const 0))
  (func (export "_water_worker") (result i32) (i32.const 0))
)
