;; spin_accept: a v0 module whose _water_dial works (host_dial) but whose
;; _water_accept loops forever without calling the host, so the listener's
;; set-up never returns. `water-pt check` must fail the set-up step within
;; its time limit and still end (the runtime's close stops the loop).
;; Rebuild: wat2wasm --no-check spin_accept.wat -o spin_accept.wasm
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_accept") (param i32) (result i32)
    (loop $forever (br $forever))
    (unreachable))
  (func (export "_water_worker") (result i32) (i32.const 0))
)
