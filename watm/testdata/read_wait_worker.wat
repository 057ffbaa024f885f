;; read_wait_worker: a complete v0 dialer whose _water_worker waits in
;; poll_oneoff for its caller fd to be readable, again and again; it never
;; reads, and never looks at its cancel fd.
;; Expected: while the caller sends nothing it parks (no thread held); a
;; Close finds the cancel channel ignored and stops it by force after the
;; grace period, which wakes the parked wait.
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; subscription at 0x100: userdata 7, tag 1 (fd_read), fd at 0x110
  (data (i32.const 0x100) "\07\00\00\00\00\00\00\00\01")
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32)
    (i32.store (i32.const 0x110) (local.get 0))
    (call $host_dial))
  (func (export "_water_worker") (result i32)
    (loop $forever
      (drop (call $poll_oneoff (i32.const 0x100) (i32.const 0x200) (i32.const 1) (i32.const 0x10)))
      (br $forever))
    (unreachable))
)
