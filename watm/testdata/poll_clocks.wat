;; poll_clocks: a v0 dialer (it dials nothing) whose worker makes one
;; poll_oneoff call with two clock subscriptions and no fd: userdata 1 fires
;; after 1 ms, userdata 2 after 60 s (both relative, monotonic). It then
;; writes nevents (u32) followed by the two event slots (64 bytes) to the
;; plaintext fd and returns 0.
;; Expected: one event, userdata 1, after about 1 ms: only the clock whose
;; deadline passed fires.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $caller (mut i32) (i32.const -1))
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param $fd i32) (result i32)
    (global.set $caller (local.get $fd))
    (i32.const 0))
  (func $clock (param $sub i32) (param $ud i64) (param $ns i64)
    (i64.store (local.get $sub) (local.get $ud))
    (i32.store8 (i32.add (local.get $sub) (i32.const 8)) (i32.const 0))
    (i32.store (i32.add (local.get $sub) (i32.const 16)) (i32.const 1))
    (i64.store (i32.add (local.get $sub) (i32.const 24)) (local.get $ns))
    (i64.store (i32.add (local.get $sub) (i32.const 32)) (i64.const 0))
    (i32.store16 (i32.add (local.get $sub) (i32.const 40)) (i32.const 0)))
  (func (export "_water_worker") (result i32)
    (local $e i32)
    (call $clock (i32.const 256) (i64.const 1) (i64.const 1000000))
    (call $clock (i32.const 304) (i64.const 2) (i64.const 60000000000))
    (local.set $e (call $poll (i32.const 256) (i32.const 1024) (i32.const 2) (i32.const 1020)))
    (if (local.get $e) (then (return (i32.sub (i32.const 0) (local.get $e)))))
    (i32.store (i32.const 128) (i32.const 1020))
    (i32.store (i32.const 132) (i32.const 68))
    (drop (call $fd_write (global.get $caller) (i32.const 128) (i32.const 1) (i32.const 136)))
    (i32.const 0))
)
