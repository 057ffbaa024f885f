;; start_exit0: ok_plain plus an exported `_start` that calls proc_exit(0),
;; as newer TinyGo builds do at the end of _start.
;; Expected: the host calls _start once per instance (there is no
;; _initialize), treats the exit with code 0 as success, keeps the instance
;; open, and the module then works exactly like ok_plain. _water_init returns
;; -28 (EINVAL) if _start has not run before it, so a host that skips _start
;; fails with "_water_init returned -28" (or similar).
;; Note: wazero's own proc_exit closes the module (CloseWithExitCode) and
;; wazero's automatic start-function call closes it too on any exit; a host
;; must call _start itself and its proc_exit must not close the instance.
;;
;; The part between the "relay core" markers is a verbatim copy of
;; ok_plain.wat (build.sh checks this); see ok_plain.wat for the memory map.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags"
    (func $fd_fdstat_set_flags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown"
    (func $sock_shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "env" "host_dial" (func $host_dial (result i32)))
  (import "env" "host_accept" (func $host_accept (result i32)))

  (memory (export "memory") 2)

  (global $started (mut i32) (i32.const 0))

  (func (export "_start")
    (global.set $started (i32.const 1))
    (call $proc_exit (i32.const 0))
    (unreachable))

  (func (export "_water_v0"))

  (func (export "_water_init") (result i32)
    (if (i32.eqz (global.get $started))
      (then (return (i32.const -28))))
    (i32.const 0))

  (func (export "_water_dial") (param $caller i32) (result i32)
    (local $fd i32)
    (global.set $fd_a (local.get $caller))
    (local.set $fd (call $host_dial))
    (global.set $fd_b (local.get $fd))
    (local.get $fd))

  (func (export "_water_accept") (param $caller i32) (result i32)
    (local $fd i32)
    (global.set $fd_a (local.get $caller))
    (local.set $fd (call $host_accept))
    (global.set $fd_b (local.get $fd))
    (local.get $fd))

  (func (export "_water_associate") (result i32)
    (local $fd i32)
    (local.set $fd (call $host_accept))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then (return (local.get $fd))))
    (global.set $fd_a (local.get $fd))
    (local.set $fd (call $host_dial))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then (return (local.get $fd))))
    (global.set $fd_b (local.get $fd))
    (i32.const 0))

  ;; ---- relay core begin ----
  (global $fd_a (mut i32) (i32.const -1))
  (global $fd_b (mut i32) (i32.const -1))
  (global $cancel_fd (mut i32) (i32.const -1))

  (func (export "_water_cancel_with") (param $fd i32) (result i32)
    (global.set $cancel_fd (local.get $fd))
    (i32.const 0))

  ;; $init_dir sets up one direction's state at $st.
  (func $init_dir (param $st i32) (param $src i32) (param $dst i32) (param $buf i32)
    (i32.store offset=0 (local.get $st) (local.get $src))
    (i32.store offset=4 (local.get $st) (local.get $dst))
    (i32.store offset=8 (local.get $st) (local.get $buf))
    (i32.store offset=12 (local.get $st) (i32.const 0))
    (i32.store offset=16 (local.get $st) (i32.const 0))
    (i32.store offset=20 (local.get $st) (i32.const 0))
    (i32.store offset=24 (local.get $st) (i32.const 0)))

  ;; $pump moves bytes for one direction until it would block. Result:
  ;;   0 wait until the source is readable
  ;;   1 wait until the destination is writable
  ;;   2 direction done (source EOF passed on with SHUT_WR)
  ;;   3 yielded after 16 reads (more may be ready)
  ;;   <0 -errno of a failed fd_read or fd_write
  (func $pump (param $st i32) (result i32)
    (local $e i32) (local $n i32) (local $rounds i32)
    (if (i32.load offset=24 (local.get $st))
      (then (return (i32.const 2))))
    (local.set $rounds (i32.const 16))
    (loop $again
      (if (i32.eqz (i32.load offset=16 (local.get $st)))
        (then
          ;; buffer empty: finish on EOF, else read the source
          (if (i32.load offset=20 (local.get $st))
            (then
              (drop (call $sock_shutdown
                (i32.load offset=4 (local.get $st)) (i32.const 2)))
              (i32.store offset=24 (local.get $st) (i32.const 1))
              (return (i32.const 2))))
          (if (i32.eqz (local.get $rounds))
            (then (return (i32.const 3))))
          (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
          (i32.store (i32.const 0x0) (i32.load offset=8 (local.get $st)))
          (i32.store (i32.const 0x4) (i32.const 0x8000))
          (local.set $e (call $fd_read
            (i32.load offset=0 (local.get $st))
            (i32.const 0x0) (i32.const 1) (i32.const 0x8)))
          (if (i32.eq (local.get $e) (i32.const 6))
            (then (return (i32.const 0))))
          (if (local.get $e)
            (then (return (i32.sub (i32.const 0) (local.get $e)))))
          (local.set $n (i32.load (i32.const 0x8)))
          (if (i32.eqz (local.get $n))
            (then
              (i32.store offset=20 (local.get $st) (i32.const 1))
              (br $again)))
          (if (i32.gt_u (local.get $n) (i32.const 0x8000))
            (then (local.set $n (i32.const 0x8000))))
          (i32.store offset=12 (local.get $st) (i32.const 0))
          (i32.store offset=16 (local.get $st) (local.get $n))))
      ;; write the pending bytes
      (i32.store (i32.const 0x0)
        (i32.add (i32.load offset=8 (local.get $st))
                 (i32.load offset=12 (local.get $st))))
      (i32.store (i32.const 0x4) (i32.load offset=16 (local.get $st)))
      (local.set $e (call $fd_write
        (i32.load offset=4 (local.get $st))
        (i32.const 0x0) (i32.const 1) (i32.const 0x8)))
      (if (i32.eq (local.get $e) (i32.const 6))
        (then (return (i32.const 1))))
      (if (local.get $e)
        (then (return (i32.sub (i32.const 0) (local.get $e)))))
      (local.set $n (i32.load (i32.const 0x8)))
      (if (i32.eqz (local.get $n))
        (then (return (i32.const 1))))
      (if (i32.gt_u (local.get $n) (i32.load offset=16 (local.get $st)))
        (then (local.set $n (i32.load offset=16 (local.get $st)))))
      (i32.store offset=12 (local.get $st)
        (i32.add (i32.load offset=12 (local.get $st)) (local.get $n)))
      (i32.store offset=16 (local.get $st)
        (i32.sub (i32.load offset=16 (local.get $st)) (local.get $n)))
      (br $again))
    (unreachable))

  ;; $add_sub writes an FD_READ (tag 1) or FD_WRITE (tag 2) subscription
  ;; into slot $i and returns $i + 1.
  (func $add_sub (param $i i32) (param $ud i64) (param $tag i32) (param $fd i32) (result i32)
    (local $p i32)
    (local.set $p (i32.add (i32.const 0x100) (i32.mul (local.get $i) (i32.const 48))))
    (i64.store offset=0 (local.get $p) (local.get $ud))
    (i64.store offset=8 (local.get $p) (i64.extend_i32_u (local.get $tag)))
    (i64.store offset=16 (local.get $p) (i64.extend_i32_u (local.get $fd)))
    (i64.store offset=24 (local.get $p) (i64.const 0))
    (i64.store offset=32 (local.get $p) (i64.const 0))
    (i64.store offset=40 (local.get $p) (i64.const 0))
    (i32.add (local.get $i) (i32.const 1)))

  ;; $add_yield writes a clock subscription (tag 0, CLOCK_MONOTONIC, relative
  ;; timeout 0) into slot $i and returns $i + 1.
  (func $add_yield (param $i i32) (param $ud i64) (result i32)
    (local $p i32)
    (local.set $p (i32.add (i32.const 0x100) (i32.mul (local.get $i) (i32.const 48))))
    (i64.store offset=0 (local.get $p) (local.get $ud))
    (i64.store offset=8 (local.get $p) (i64.const 0))
    (i64.store offset=16 (local.get $p) (i64.const 1))
    (i64.store offset=24 (local.get $p) (i64.const 0))
    (i64.store offset=32 (local.get $p) (i64.const 0))
    (i64.store offset=40 (local.get $p) (i64.const 0))
    (i32.add (local.get $i) (i32.const 1)))

  ;; $sub_dir adds the subscription a direction asked for ($r from $pump).
  (func $sub_dir (param $i i32) (param $st i32) (param $r i32) (param $ud i64) (result i32)
    (if (i32.eqz (local.get $r))
      (then (return (call $add_sub (local.get $i) (local.get $ud) (i32.const 1)
        (i32.load offset=0 (local.get $st))))))
    (if (i32.eq (local.get $r) (i32.const 1))
      (then (return (call $add_sub (local.get $i) (local.get $ud) (i32.const 2)
        (i32.load offset=4 (local.get $st))))))
    (local.get $i))

  (func (export "_water_worker") (result i32)
    (local $e i32) (local $r0 i32) (local $r1 i32) (local $ns i32)
    (local $i i32) (local $ev i32)
    (if (i32.or (i32.lt_s (global.get $fd_a) (i32.const 0))
                (i32.lt_s (global.get $fd_b) (i32.const 0)))
      (then (return (i32.const -8)))) ;; no role entry ran: EBADF
    (local.set $e (call $fd_fdstat_set_flags (global.get $fd_a) (i32.const 4)))
    (if (local.get $e)
      (then (return (i32.sub (i32.const 0) (local.get $e)))))
    (local.set $e (call $fd_fdstat_set_flags (global.get $fd_b) (i32.const 4)))
    (if (local.get $e)
      (then (return (i32.sub (i32.const 0) (local.get $e)))))
    (call $init_dir (i32.const 0x40) (global.get $fd_a) (global.get $fd_b) (i32.const 0x1000))
    (call $init_dir (i32.const 0x60) (global.get $fd_b) (global.get $fd_a) (i32.const 0x9000))
    (loop $main
      (local.set $r0 (call $pump (i32.const 0x40)))
      (if (i32.lt_s (local.get $r0) (i32.const 0))
        (then (return (local.get $r0))))
      (local.set $r1 (call $pump (i32.const 0x60)))
      (if (i32.lt_s (local.get $r1) (i32.const 0))
        (then (return (local.get $r1))))
      (if (i32.and (i32.eq (local.get $r0) (i32.const 2))
                   (i32.eq (local.get $r1) (i32.const 2)))
        (then (return (i32.const 0))))
      ;; userdata: 0 = A->B, 1 = B->A, 2 = cancel fd, 3 = yield clock
      (local.set $ns (call $sub_dir (i32.const 0) (i32.const 0x40) (local.get $r0) (i64.const 0)))
      (local.set $ns (call $sub_dir (local.get $ns) (i32.const 0x60) (local.get $r1) (i64.const 1)))
      (if (i32.ge_s (global.get $cancel_fd) (i32.const 0))
        (then (local.set $ns (call $add_sub (local.get $ns) (i64.const 2) (i32.const 1)
          (global.get $cancel_fd)))))
      (if (i32.or (i32.eq (local.get $r0) (i32.const 3))
                  (i32.eq (local.get $r1) (i32.const 3)))
        (then (local.set $ns (call $add_yield (local.get $ns) (i64.const 3)))))
      (i32.store (i32.const 0xc) (i32.const 0))
      (local.set $e (call $poll_oneoff
        (i32.const 0x100) (i32.const 0x200) (local.get $ns) (i32.const 0xc)))
      (if (local.get $e)
        (then (return (i32.sub (i32.const 0) (local.get $e)))))
      ;; The cancel fd being readable (or failing) ends the worker; every
      ;; other event just means "try again".
      (local.set $i (i32.const 0))
      (block $scanned
        (loop $scan
          (br_if $scanned (i32.ge_u (local.get $i) (i32.load (i32.const 0xc))))
          (br_if $scanned (i32.ge_u (local.get $i) (local.get $ns)))
          (local.set $ev (i32.add (i32.const 0x200) (i32.mul (local.get $i) (i32.const 32))))
          (if (i64.eq (i64.load offset=0 (local.get $ev)) (i64.const 2))
            (then (return (i32.sub (i32.const 0)
              (i32.load16_u offset=8 (local.get $ev))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $scan)))
      (br $main))
    (unreachable))
  ;; ---- relay core end ----
)
