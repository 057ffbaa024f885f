;; poll_empty_worker: a complete v0 dialer whose _water_worker calls
;; poll_oneoff with no subscriptions in a loop, ignoring the result (EINVAL),
;; and never looks at its cancel fd or its sockets.
;; Expected: it keeps a CPU busy through host calls until the host stops it;
;; when the connection's peer leaves, the host ends the session (cancel
;; channel, grace, forced stop: the next host call unwinds).
(module
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param i32) (result i32) (call $host_dial))
  (func (export "_water_worker") (result i32)
    (loop $forever
      (drop (call $poll_oneoff (i32.const 0x100) (i32.const 0x200) (i32.const 0) (i32.const 0x10)))
      (br $forever))
    (unreachable))
)
