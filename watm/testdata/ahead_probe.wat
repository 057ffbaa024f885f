;; ahead_probe: a v0 module (dial role) that exports waterpt_reseed, so the
;; host starts its instances from a snapshot, and waterpt_ahead, which
;; counts its calls at address 44 and returns -28 (EINVAL) unless the
;; reseed ran first in this instance (its count at address 40 is 1).
;; _water_dial returns its plaintext fd only if waterpt_ahead ran exactly
;; once, else -28; the worker returns 0 at once, so the instance may be
;; recycled. (The global and the data are as in snapshot_probe.wat: the
;; host snapshots no module without data.)
(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 16) "probe")
  (func (export "_initialize") (global.set $g (i32.const 1)))
  (func (export "waterpt_reseed") (result i32)
    (i32.store (i32.const 40) (i32.add (i32.load (i32.const 40)) (i32.const 1)))
    (i32.const 0))
  (func (export "waterpt_ahead") (result i32)
    (i32.store (i32.const 44) (i32.add (i32.load (i32.const 44)) (i32.const 1)))
    (if (result i32) (i32.eq (i32.load (i32.const 40)) (i32.const 1))
      (then (i32.const 0))
      (else (i32.const -28))))
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32)
    (if (result i32) (i32.eq (i32.load (i32.const 44)) (i32.const 1))
      (then (local.get 0))
      (else (i32.const -28))))
  (func (export "_water_worker") (result i32) (i32.const 0)))
