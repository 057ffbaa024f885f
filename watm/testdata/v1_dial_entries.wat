;; v1_dial_entries: a v1 dialer that exports both dial entries, as the
;; upstream SDK does. watm_dial_v1 calls water_dial_fixed (the host's
;; destination); watm_dial_fixed_v1 calls water_dial("tcp", "localhost:7700"),
;; the SDK's hard-coded address, which the default dial policy denies.
;; watm_start_v1 writes the name of the entry the host called to the
;; plaintext fd and returns 0.
;; Expected: a host that knows the destination calls watm_dial_v1, and the
;; plaintext reads "watm_dial_v1".
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "water_dial_fixed" (func $water_dial_fixed (result i32)))
  (import "env" "water_dial" (func $water_dial (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "tcp")
  (data (i32.const 16) "localhost:7700")
  (data (i32.const 32) "watm_dial_v1")
  (data (i32.const 48) "watm_dial_fixed_v1")
  ;; 64 network iovec, 72 address iovec, 80 write iovec, 88 nwritten
  (global $caller (mut i32) (i32.const -1))
  (func (export "watm_init_v1") (result i32) (i32.const 0))
  (func (export "watm_ctrlpipe_v1") (param i32) (result i32) (i32.const 0))
  (func (export "watm_dial_v1") (param $fd i32) (result i32)
    (global.set $caller (local.get $fd))
    (i32.store (i32.const 80) (i32.const 32))
    (i32.store (i32.const 84) (i32.const 12))
    (call $water_dial_fixed))
  (func (export "watm_dial_fixed_v1") (param $fd i32) (result i32)
    (global.set $caller (local.get $fd))
    (i32.store (i32.const 80) (i32.const 48))
    (i32.store (i32.const 84) (i32.const 18))
    (i32.store (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 3))
    (i32.store (i32.const 72) (i32.const 16))
    (i32.store (i32.const 76) (i32.const 14))
    (call $water_dial (i32.const 64) (i32.const 1) (i32.const 72) (i32.const 1)))
  (func (export "watm_start_v1") (result i32)
    (drop (call $fd_write (global.get $caller) (i32.const 80) (i32.const 1) (i32.const 88)))
    (i32.const 0))
)
