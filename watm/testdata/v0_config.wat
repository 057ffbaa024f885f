;; v0_config: a v0 dialer that reads its config through pull_config in
;; _water_init and, in _water_worker, writes it (or "none" when pull_config
;; returned a negative errno) to its plaintext fd and returns 0.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "env" "pull_config" (func $pull_config (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 32) "none")
  (global $caller (mut i32) (i32.const -1))
  (global $cfglen (mut i32) (i32.const -1))
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32)
    (local $fd i32)
    (local.set $fd (call $pull_config))
    (if (i32.ge_s (local.get $fd) (i32.const 0))
      (then
        (i32.store (i32.const 88) (i32.const 256))
        (i32.store (i32.const 92) (i32.const 1024))
        (if (i32.eqz (call $fd_read (local.get $fd) (i32.const 88) (i32.const 1) (i32.const 84)))
          (then (global.set $cfglen (i32.load (i32.const 84)))))))
    (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param $fd i32) (result i32)
    (global.set $caller (local.get $fd))
    (call $host_dial))
  (func (export "_water_worker") (result i32)
    (if (i32.ge_s (global.get $cfglen) (i32.const 0))
      (then
        (i32.store (i32.const 96) (i32.const 256))
        (i32.store (i32.const 100) (global.get $cfglen)))
      (else
        (i32.store (i32.const 96) (i32.const 32))
        (i32.store (i32.const 100) (i32.const 4))))
    (drop (call $fd_write (global.get $caller) (i32.const 96) (i32.const 1) (i32.const 84)))
    (i32.const 0))
)
