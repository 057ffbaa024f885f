;; both_markers: a complete v0 module (all three roles) that also exports the
;; v1 trio watm_init_v1: () -> i32, watm_start_v1: () -> i32 and
;; watm_ctrlpipe_v1: (i32) -> i32.
;; Expected: rejected at load; the error says the module declares both
;; versions and names what it found ("_water_v0" and the watm_*_v1 exports).
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "env" "host_accept" (func $host_accept (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_accept") (param i32) (result i32) (call $host_accept))
  (func (export "_water_associate") (result i32)
    (drop (call $host_accept))
    (drop (call $host_dial))
    (i32.const 0))
  (func (export "_water_worker") (result i32) (i32.const 0))
  (func (export "watm_init_v1") (result i32) (i32.const 0))
  (func (export "watm_start_v1") (result i32) (i32.const 0))
  (func (export "watm_ctrlpipe_v1") (param i32) (result i32) (i32.const 0))
)
