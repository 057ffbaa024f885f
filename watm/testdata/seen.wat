;; seen: not a WATM; a harness for the host function water_seen. Its export
;; seen(key_ptr, key_len, ttl_seconds) -> i32 passes its arguments to
;; env.water_seen unchanged, so a test can try any pointer and length
;; against one page (64 KiB) of memory; the test writes the keys into that
;; memory itself.
(module
  (import "env" "water_seen" (func $water_seen (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (func (export "seen") (param i32 i32 i32) (result i32)
    (call $water_seen (local.get 0) (local.get 1) (local.get 2))))
