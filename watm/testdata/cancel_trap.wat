;; cancel_trap: a complete v0 dialer whose _water_worker waits in
;; poll_oneoff until its cancel fd is readable, then executes `unreachable`
;; instead of returning.
;; Expected: Close (which writes the cancel fd) returns the trap, and so does
;; Wait: a real failure while stopping is not mistaken for the cancellation.
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $cancel_fd (mut i32) (i32.const -1))
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param $fd i32) (result i32)
    (global.set $cancel_fd (local.get $fd))
    (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32)
    ;; subscription at 0x100: userdata 2, tag 1 (fd_read), fd = cancel fd
    (i64.store (i32.const 0x100) (i64.const 2))
    (i64.store (i32.const 0x108) (i64.const 1))
    (i32.store (i32.const 0x110) (global.get $cancel_fd))
    (drop (call $poll_oneoff (i32.const 0x100) (i32.const 0x200) (i32.const 1) (i32.const 0x10)))
    (unreachable))
)
