;; grow_forever: a complete v0 dialer whose memory has no maximum and whose
;; _water_worker calls memory.grow 1 in a loop. When the host's page limit is
;; reached memory.grow returns -1 and the worker executes `unreachable`.
;; Each new page gets one byte written so the growth is real.
;; Expected: the connection ends with a trap error (wazero: "wasm error:
;; unreachable") after the memory reached exactly the host's page limit and
;; not more. Without a host limit wazero would allow 65536 pages (4 GiB).
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32)
    (local $old i32)
    (loop $grow
      (local.set $old (memory.grow (i32.const 1)))
      (if (i32.eq (local.get $old) (i32.const -1))
        (then (unreachable)))
      ;; touch the first byte of the new page
      (i32.store8 (i32.shl (local.get $old) (i32.const 16)) (i32.const 1))
      (br $grow))
    (unreachable))
)
