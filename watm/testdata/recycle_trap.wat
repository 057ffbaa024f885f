;; recycle_trap: a v0 module (dial role) that exports waterpt_reseed, so the
;; host starts its instances from a snapshot taken after _initialize, and
;; whose worker changes that state and traps: the host must not
;; recycle it.
;; _initialize, waterpt_reseed and _water_init are snapshot_probe.wat's:
;; _water_init returns 0 only in the snapshot's state with the reseed run
;; once in it, otherwise -28 (EINVAL). _water_dial returns its plaintext fd.
(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 16) "probe")
  (func (export "_initialize")
    (global.set $g (i32.const 7))
    (i32.store (i32.const 32) (i32.const 9))
    (i32.store (i32.const 36) (i32.add (i32.load (i32.const 36)) (i32.const 1)))
    (drop (memory.grow (i32.const 2)))
    (i32.store (i32.const 131072) (i32.const 5)))
  (func (export "waterpt_reseed") (result i32)
    (i32.store (i32.const 40) (i32.add (i32.load (i32.const 40)) (i32.const 1)))
    (i32.load (i32.const 48)))
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32)
    (if (result i32)
      (i32.and
        (i32.and
          (i32.and (i32.eq (global.get $g) (i32.const 7))
                   (i32.eq (i32.load (i32.const 32)) (i32.const 9)))
          (i32.and (i32.eq (i32.load (i32.const 36)) (i32.const 1))
                   (i32.eq (i32.load (i32.const 40)) (i32.const 1))))
        (i32.and (i32.eq (memory.size) (i32.const 3))
                 (i32.eq (i32.load (i32.const 131072)) (i32.const 5))))
      (then (i32.const 0))
      (else (i32.const -28))))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (local.get 0))
  ;; the connection: every value _water_init checks changes.
  (func $serve
    (global.set $g (i32.const 99))
    (i32.store (i32.const 32) (i32.const 0))
    (i32.store (i32.const 36) (i32.const 0))
    (i32.store (i32.const 40) (i32.const 0))
    (i32.store (i32.const 131072) (i32.const 0)))
  (func (export "_water_worker") (result i32)
    (call $serve)
    unreachable))
