;; foreign_fd: a v0 dialer whose _water_worker uses fds it was never given.
;;
;; Candidate fds (k = position in this list):
;;   k: 0  1  2  3  4  5    6     7           8   9
;;   fd: 3  4  5  6  7  100  1000  0x7fffffff  -1  -0x80000000
;; A candidate equal to one of the module's own fds (the caller fd given to
;; _water_dial, the fd host_dial returned, the cancel fd) is skipped; fds
;; 0-2 (stdio) are not tried.
;; For each remaining candidate, in this order (op):
;;   0 fd_write(fd, 1-byte iovec)           1 fd_read(fd, 1-byte iovec)
;;   2 sock_send(fd, 1-byte iovec)          3 sock_recv(fd, 1-byte iovec)
;;   4 fd_fdstat_get(fd)                    5 fd_fdstat_set_flags(fd, 4)
;;   6 sock_shutdown(fd, SHUT_WR)
;;   7 poll_oneoff on {FD_READ fd, userdata 7} + {clock 1 s, userdata 9}:
;;     right if the call itself returns EBADF, or returns 0 with an event for
;;     userdata 7 whose error is EBADF (the event must come at once; only the
;;     clock firing counts as wrong)
;;   8 fd_close(fd)
;; Every op must give EBADF (8). Index of a check = k*9 + op.
;; Then the module's own fds must be untouched:
;;   index 90: fd_fdstat_get(caller fd) == 0
;;   index 91: fd_fdstat_get(dialed fd) == 0
;; Result of _water_worker: -8 if every check passed, else
;; -(1000 + index of the first failed check). Debug aid: the first failed
;; index is stored at 0x400 and what it got (errno, or 0xffff for "no event
;; for the fd") at 0x404.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send"
    (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv"
    (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get"
    (func $fd_fdstat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags"
    (func $fd_fdstat_set_flags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown"
    (func $sock_shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close"
    (func $fd_close (param i32) (result i32)))
  (import "env" "host_dial" (func $host_dial (result i32)))

  (memory (export "memory") 1)

  ;; 0x000 iovec {0x800, 1}; 0x008 result; 0x010 ro_flags; 0x020 fdstat
  ;; 0x040 nevents; 0x100 candidate fds; 0x200 subscriptions; 0x300 events
  (data (i32.const 0x000) "\00\08\00\00\01\00\00\00")
  (data (i32.const 0x100)
    "\03\00\00\00" "\04\00\00\00" "\05\00\00\00" "\06\00\00\00" "\07\00\00\00"
    "\64\00\00\00" "\e8\03\00\00" "\ff\ff\ff\7f" "\ff\ff\ff\ff" "\00\00\00\80")
  (data (i32.const 0x800) "x")

  (global $caller (mut i32) (i32.const -1))
  (global $net (mut i32) (i32.const -1))
  (global $cancel (mut i32) (i32.const -1))
  (global $first (mut i32) (i32.const -1))

  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param $fd i32) (result i32)
    (global.set $cancel (local.get $fd))
    (i32.const 0))
  (func (export "_water_dial") (param $caller i32) (result i32)
    (global.set $caller (local.get $caller))
    (global.set $net (call $host_dial))
    (global.get $net))

  (func $check (param $i i32) (param $got i32) (param $want i32)
    (if (i32.and (i32.ne (local.get $got) (local.get $want))
                 (i32.lt_s (global.get $first) (i32.const 0)))
      (then
        (global.set $first (local.get $i))
        (i32.store (i32.const 0x400) (local.get $i))
        (i32.store (i32.const 0x404) (local.get $got)))))

  ;; $poll_bad returns 8 when the host reports EBADF for $fd, else what it
  ;; saw (0xffff: no event for the fd, only the clock).
  (func $poll_bad (param $fd i32) (result i32)
    (local $e i32) (local $i i32) (local $ev i32)
    (i64.store offset=0 (i32.const 0x200) (i64.const 7))
    (i64.store offset=8 (i32.const 0x200) (i64.const 1))
    (i64.store offset=16 (i32.const 0x200) (i64.extend_i32_u (local.get $fd)))
    (i64.store offset=24 (i32.const 0x200) (i64.const 0))
    (i64.store offset=32 (i32.const 0x200) (i64.const 0))
    (i64.store offset=40 (i32.const 0x200) (i64.const 0))
    (i64.store offset=48 (i32.const 0x200) (i64.const 9))
    (i64.store offset=56 (i32.const 0x200) (i64.const 0))
    (i64.store offset=64 (i32.const 0x200) (i64.const 1))
    (i64.store offset=72 (i32.const 0x200) (i64.const 1000000000))
    (i64.store offset=80 (i32.const 0x200) (i64.const 0))
    (i64.store offset=88 (i32.const 0x200) (i64.const 0))
    (i32.store (i32.const 0x40) (i32.const 0))
    (local.set $e (call $poll_oneoff (i32.const 0x200) (i32.const 0x300) (i32.const 2) (i32.const 0x40)))
    (if (local.get $e) (then (return (local.get $e))))
    (block $none
      (loop $scan
        (br_if $none (i32.ge_u (local.get $i) (i32.load (i32.const 0x40))))
        (br_if $none (i32.ge_u (local.get $i) (i32.const 2)))
        (local.set $ev (i32.add (i32.const 0x300) (i32.shl (local.get $i) (i32.const 5))))
        (if (i64.eq (i64.load (local.get $ev)) (i64.const 7))
          (then (return (i32.load16_u offset=8 (local.get $ev)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i32.const 0xffff))

  (func (export "_water_worker") (result i32)
    (local $k i32) (local $fd i32) (local $b i32)
    (loop $each
      (local.set $fd (i32.load (i32.add (i32.const 0x100) (i32.shl (local.get $k) (i32.const 2)))))
      (local.set $b (i32.mul (local.get $k) (i32.const 9)))
      (if (i32.eqz (i32.or (i32.or (i32.eq (local.get $fd) (global.get $caller))
                                   (i32.eq (local.get $fd) (global.get $net)))
                           (i32.eq (local.get $fd) (global.get $cancel))))
        (then
          (call $check (local.get $b)
            (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 0x8)) (i32.const 8))
          (call $check (i32.add (local.get $b) (i32.const 1))
            (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 0x8)) (i32.const 8))
          (call $check (i32.add (local.get $b) (i32.const 2))
            (call $sock_send (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0x8)) (i32.const 8))
          (call $check (i32.add (local.get $b) (i32.const 3))
            (call $sock_recv (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0x8) (i32.const 0x10)) (i32.const 8))
          (call $check (i32.add (local.get $b) (i32.const 4))
            (call $fd_fdstat_get (local.get $fd) (i32.const 0x20)) (i32.const 8))
          (call $check (i32.add (local.get $b) (i32.const 5))
            (call $fd_fdstat_set_flags (local.get $fd) (i32.const 4)) (i32.const 8))
          (call $check (i32.add (local.get $b) (i32.const 6))
            (call $sock_shutdown (local.get $fd) (i32.const 2)) (i32.const 8))
          (call $check (i32.add (local.get $b) (i32.const 7))
            (call $poll_bad (local.get $fd)) (i32.const 8))
          (call $check (i32.add (local.get $b) (i32.const 8))
            (call $fd_close (local.get $fd)) (i32.const 8))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $k) (i32.const 10))))
    (call $check (i32.const 90) (call $fd_fdstat_get (global.get $caller) (i32.const 0x20)) (i32.const 0))
    (call $check (i32.const 91) (call $fd_fdstat_get (global.get $net) (i32.const 0x20)) (i32.const 0))
    (if (i32.ge_s (global.get $first) (i32.const 0))
      (then (return (i32.sub (i32.const -1000) (global.get $first)))))
    (i32.const -8))
)
