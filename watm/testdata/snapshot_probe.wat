;; snapshot_probe: a v0 module (dial role) that exports waterpt_reseed, so
;; the host starts its instances from a snapshot taken after _initialize.
;; _initialize sets the mutable global $g to 7, stores 9 at address 32, adds
;; 1 to a counter at 36, grows memory by 2 pages and stores 5 in the last
;; one (address 131072). waterpt_reseed adds 1 to a counter at 40 and returns
;; the i32 at 48 (0: success).
;; _water_init returns 0 only in the state _initialize left (g = 7, mem[32] = 9,
;; _initialize run once: mem[36] = 1, 3 pages, mem[131072] = 5) with
;; waterpt_reseed run exactly once in it (mem[40] = 1: the host's call on the
;; template comes after the snapshot); otherwise -28 (EINVAL).
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
  (func (export "_water_dial") (param i32) (result i32) (i32.const -28))
  (func (export "_water_worker") (result i32) (i32.const 0)))
