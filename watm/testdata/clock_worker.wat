;; clock_worker: a complete v0 dialer whose _water_worker waits in
;; poll_oneoff on one clock subscription of an hour (relative,
;; CLOCK_MONOTONIC), again and again; it never looks at its cancel fd or its
;; sockets.
;; Expected: it uses no CPU while it waits; when the connection's peer
;; leaves, the host ends the session (cancel channel, grace, forced stop:
;; the interrupt wakes the wait and the call unwinds).
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; subscription at 0x100: userdata 7, tag 0 (clock), id 1 (monotonic),
  ;; timeout 3600 s, precision 0, flags 0 (relative)
  (data (i32.const 0x100) "\07\00\00\00\00\00\00\00")
  (data (i32.const 0x110) "\01\00\00\00")
  (data (i32.const 0x118) "\00\a0\b8\30\46\03\00\00")
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32)
    (loop $forever
      (drop (call $poll_oneoff (i32.const 0x100) (i32.const 0x200) (i32.const 1) (i32.const 0x10)))
      (br $forever))
    (unreachable))
)
