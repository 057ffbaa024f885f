;; v1_config_dial: a v1 module that reads /conf/watm.cfg in watm_init_v1,
;; dials that address itself with water_dial("tcp", config) in
;; watm_dial_fixed_v1 (the entry for a module that picks its own address;
;; it exports no watm_dial_v1), and in watm_start_v1 writes the config (or "none") to its
;; plaintext fd and returns 0. Tests use it for config delivery and for the
;; dial policy.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "water_dial" (func $water_dial (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "tcp")
  (data (i32.const 16) "watm.cfg")
  (data (i32.const 32) "none")
  ;; 64 network iovec, 72 address iovec, 80 opened fd, 84 nread/nwritten,
  ;; 88 read iovec, 96 write iovec; the config is read to 256.
  (global $caller (mut i32) (i32.const -1))
  (global $cfglen (mut i32) (i32.const -1))
  (func $read_config (result i32)
    (local $fd i32)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 8)
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 80))
      (then (return (i32.const -1))))
    (local.set $fd (i32.load (i32.const 80)))
    (i32.store (i32.const 88) (i32.const 256))
    (i32.store (i32.const 92) (i32.const 1024))
    (if (call $fd_read (local.get $fd) (i32.const 88) (i32.const 1) (i32.const 84))
      (then (return (i32.const -1))))
    (i32.load (i32.const 84)))
  (func (export "watm_init_v1") (result i32)
    (global.set $cfglen (call $read_config))
    (i32.const 0))
  (func (export "watm_ctrlpipe_v1") (param i32) (result i32) (i32.const 0))
  (func (export "watm_dial_fixed_v1") (param $fd i32) (result i32)
    (global.set $caller (local.get $fd))
    (i32.store (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 3))
    (i32.store (i32.const 72) (i32.const 256))
    (i32.store (i32.const 76) (select (global.get $cfglen) (i32.const 0) (i32.ge_s (global.get $cfglen) (i32.const 0))))
    (call $water_dial (i32.const 64) (i32.const 1) (i32.const 72) (i32.const 1)))
  (func (export "watm_start_v1") (result i32)
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
