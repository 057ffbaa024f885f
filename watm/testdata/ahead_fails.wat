;; ahead_fails: a v0 module (dial role) whose waterpt_ahead fails with -29
;; (EIO) after writing a line to stderr; the rest works: the host must turn
;; the export off, make the instance again without it, and log why.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "no ahead here\n")
  (func (export "waterpt_ahead") (result i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 14))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.const -29))
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (local.get 0))
  (func (export "_water_worker") (result i32) (i32.const 0)))
