;; slow_init: a complete v0 dialer whose _water_init waits 60 s in
;; poll_oneoff (one relative CLOCK_MONOTONIC subscription) before returning
;; 0; the rest relays nothing (the worker returns 0 at once). Dialer and
;; listener, so that both sides of water-pt can run it.
;; Expected: the host's set-up deadline stops the instance while init waits
;; (the interrupt wakes poll_oneoff) and the connection fails with a set-up
;; timeout; host_dial (host_accept) is never reached.
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "env" "host_accept" (func $host_accept (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; subscription at 0x100: userdata 1, tag 0 (clock), id 1 (monotonic),
  ;; timeout 60 s, precision 0, flags 0 (relative)
  (data (i32.const 0x100) "\01\00\00\00\00\00\00\00")
  (data (i32.const 0x110) "\01\00\00\00")
  (data (i32.const 0x118) "\00\58\47\f8\0d\00\00\00")
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32)
    (drop (call $poll_oneoff (i32.const 0x100) (i32.const 0x200) (i32.const 1) (i32.const 0x10)))
    (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_accept") (param i32) (result i32) (call $host_accept))
  (func (export "_water_worker") (result i32) (i32.const 0))
)
