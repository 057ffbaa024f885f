;; snapshot_reseed_fails: snapshot_probe whose waterpt_reseed fails: it adds 1
;; to a counter at 40 and returns -58 (ENOTSUP, from the data at 48).
;; The host must not snapshot it: each instance runs _initialize, and
;; waterpt_reseed is never called in one. _water_init returns 0 only in
;; that state (mem[36] = 1, mem[40] = 0); otherwise -28 (EINVAL).
(module
  (memory (export "memory") 1)
  (data (i32.const 48) "\c6\ff\ff\ff")
  (func (export "_initialize")
    (i32.store (i32.const 36) (i32.add (i32.load (i32.const 36)) (i32.const 1))))
  (func (export "waterpt_reseed") (result i32)
    (i32.store (i32.const 40) (i32.add (i32.load (i32.const 40)) (i32.const 1)))
    (i32.load (i32.const 48)))
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32)
    (if (result i32)
      (i32.and (i32.eq (i32.load (i32.const 36)) (i32.const 1))
               (i32.eq (i32.load (i32.const 40)) (i32.const 0)))
      (then (i32.const 0))
      (else (i32.const -28))))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (i32.const -28))
  (func (export "_water_worker") (result i32) (i32.const 0)))
