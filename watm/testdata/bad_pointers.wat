;; bad_pointers: a v0 dialer whose _water_worker calls every
;; wasi_snapshot_preview1 function that takes a pointer or a length with
;; pointers/lengths that fall outside linear memory (1 page = 64 KiB, fixed:
;; min 1, max 1). Where a function takes an fd it gets the module's own caller
;; fd (valid, owned, a socket) so that EBADF is not a correct answer.
;;
;; Every call must return EFAULT (21), without side effects: in particular no
;; byte may be read from or written to the caller fd, and no call may block
;; (the caller fd is made non-blocking first; a host that does the I/O before
;; checking a result pointer gives EAGAIN here and fails the check).
;; The rule these checks assume: (1) every pointer/length is checked first
;; (EFAULT), including sums that overflow 32 bits; (2) then the fd (one the
;; module does not own is EBADF); (3) only then anything else (ESPIPE,
;; ENOTDIR, ENOTSOCK, ENOTSUP, ...). Only owned fds are passed here, so the
;; order of (1) and (2) is tested in TestWASIErrnoOrder, not here.
;; Two exceptions, both documented in README.md:
;;   - fd_prestat_get / fd_prestat_dir_name may also answer EBADF (8): in
;;     WASI that is how "not a preopen" is reported, and wasi-libc relies on it;
;;   - args_get / environ_get may also answer 0 when the matching *_sizes_get
;;     reports 0 entries and 0 bytes (nothing is written then).
;;
;; Result of _water_worker: -21 when every call answered as expected, else
;; -(1000 + index of the first offending call) (see README.md for the index
;; table). Debug aid: the errno each call returned is stored as a u16 at
;; 0x2000 + 2*index, and the first offending index at 0x1ff0.
;;
;; Memory map:
;;   0x0100 R  (8 bytes: a valid result slot), 0x0108 R2, 0x0180 sizes
;;   0x0200 IOV_OUT  {buf 0xffffff00, len 0x100}   buffer outside memory
;;   0x0210 IOV_WRAP {buf 0x100, len 0xfffffff0}   buf+len overflows u32
;;   0x0220 IOV_EDGE {buf 0xfff0, len 0x20}        buffer straddles the end
;;   0x0230 IOV_OK   {buf 0x1000, len 16}          valid
;;   0x0400 SUB_OK: one valid clock subscription (CLOCK_MONOTONIC, timeout 0)
;;   0x0500 PATH_OK "x"
;;   0x0600 EV: room for one event
;;   0xfff8 one valid iovec {0x1000, 16}; a second entry would be at 0x10000
;;   BAD = 0xfffffff0 (BAD + 16 wraps to exactly 0 in u32)
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread"
    (func $fd_pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite"
    (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv"
    (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send"
    (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept"
    (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_res_get"
    (func $clock_res_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get"
    (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get"
    (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get"
    (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get"
    (func $fd_fdstat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags"
    (func $fd_fdstat_set_flags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get"
    (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get"
    (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name"
    (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek"
    (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_tell"
    (func $fd_tell (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir"
    (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_set_times"
    (func $path_filestat_set_times (param i32 i32 i32 i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_remove_directory"
    (func $path_remove_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_readlink"
    (func $path_readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename"
    (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link"
    (func $path_link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "host_dial" (func $host_dial (result i32)))

  (memory (export "memory") 1 1)

  (data (i32.const 0x0200) "\00\ff\ff\ff\00\01\00\00")  ;; IOV_OUT
  (data (i32.const 0x0210) "\00\01\00\00\f0\ff\ff\ff")  ;; IOV_WRAP
  (data (i32.const 0x0220) "\f0\ff\00\00\20\00\00\00")  ;; IOV_EDGE
  (data (i32.const 0x0230) "\00\10\00\00\10\00\00\00")  ;; IOV_OK
  (data (i32.const 0x0410) "\01")                       ;; SUB_OK clock id 1
  (data (i32.const 0x0500) "x")                         ;; PATH_OK
  (data (i32.const 0xfff8) "\00\10\00\00\10\00\00\00")  ;; last 8 bytes

  (global $caller (mut i32) (i32.const -1))
  (global $first (mut i32) (i32.const -1))

  (func (export "_water_v0"))
  (func (export "_water_init") (result i32) (i32.const 0))
  (func (export "_water_cancel_with") (param i32) (result i32) (i32.const 0))
  (func (export "_water_dial") (param $caller i32) (result i32)
    (global.set $caller (local.get $caller))
    (call $host_dial))

  ;; $note records what call $i returned and whether that was acceptable.
  (func $note (param $i i32) (param $got i32) (param $ok i32)
    (i32.store16 (i32.add (i32.const 0x2000) (i32.shl (local.get $i) (i32.const 1)))
                 (local.get $got))
    (if (i32.and (i32.eqz (local.get $ok))
                 (i32.lt_s (global.get $first) (i32.const 0)))
      (then
        (global.set $first (local.get $i))
        (i32.store (i32.const 0x1ff0) (local.get $i)))))

  ;; $want: only EFAULT is right.
  (func $want (param $i i32) (param $got i32)
    (call $note (local.get $i) (local.get $got)
      (i32.eq (local.get $got) (i32.const 21))))

  ;; $want_or_badf: EFAULT or EBADF.
  (func $want_or_badf (param $i i32) (param $got i32)
    (call $note (local.get $i) (local.get $got)
      (i32.or (i32.eq (local.get $got) (i32.const 21))
              (i32.eq (local.get $got) (i32.const 8)))))

  ;; $want_or_zero: EFAULT, or 0 when $zero_ok.
  (func $want_or_zero (param $i i32) (param $got i32) (param $zero_ok i32)
    (call $note (local.get $i) (local.get $got)
      (i32.or (i32.eq (local.get $got) (i32.const 21))
              (i32.and (local.get $zero_ok) (i32.eqz (local.get $got))))))

  (func (export "_water_worker") (result i32)
    (local $fd i32) (local $e i32)
    (local.set $fd (global.get $caller))
    ;; Non-blocking, so a host that does I/O before validating answers
    ;; EAGAIN instead of hanging. Its result does not matter.
    (drop (call $fd_fdstat_set_flags (local.get $fd) (i32.const 4)))

    ;; fd_read
    (call $want (i32.const 0) (call $fd_read (local.get $fd) (i32.const 0xfffffff0) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 1) (call $fd_read (local.get $fd) (i32.const 0x200) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 2) (call $fd_read (local.get $fd) (i32.const 0x210) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 3) (call $fd_read (local.get $fd) (i32.const 0x220) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 4) (call $fd_read (local.get $fd) (i32.const 0xfff8) (i32.const 2) (i32.const 0x100)))
    (call $want (i32.const 5) (call $fd_read (local.get $fd) (i32.const 0) (i32.const 0x20000000) (i32.const 0x100)))
    (call $want (i32.const 6) (call $fd_read (local.get $fd) (i32.const 0x230) (i32.const 1) (i32.const 0xfffffff0)))
    (call $want (i32.const 7) (call $fd_read (local.get $fd) (i32.const 0x230) (i32.const 1) (i32.const 0xfffe)))
    ;; fd_write
    (call $want (i32.const 8) (call $fd_write (local.get $fd) (i32.const 0xfffffff0) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 9) (call $fd_write (local.get $fd) (i32.const 0x200) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 10) (call $fd_write (local.get $fd) (i32.const 0x210) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 11) (call $fd_write (local.get $fd) (i32.const 0x220) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 12) (call $fd_write (local.get $fd) (i32.const 0xfff8) (i32.const 2) (i32.const 0x100)))
    (call $want (i32.const 13) (call $fd_write (local.get $fd) (i32.const 0x230) (i32.const 1) (i32.const 0xfffffff0)))
    ;; fd_pread / fd_pwrite
    (call $want (i32.const 14) (call $fd_pread (local.get $fd) (i32.const 0x200) (i32.const 1) (i64.const 0) (i32.const 0x100)))
    (call $want (i32.const 15) (call $fd_pread (local.get $fd) (i32.const 0x230) (i32.const 1) (i64.const 0) (i32.const 0xfffffff0)))
    (call $want (i32.const 16) (call $fd_pwrite (local.get $fd) (i32.const 0x200) (i32.const 1) (i64.const 0) (i32.const 0x100)))
    (call $want (i32.const 17) (call $fd_pwrite (local.get $fd) (i32.const 0x230) (i32.const 1) (i64.const 0) (i32.const 0xfffffff0)))
    ;; sock_recv / sock_send / sock_accept
    (call $want (i32.const 18) (call $sock_recv (local.get $fd) (i32.const 0xfffffff0) (i32.const 1) (i32.const 0) (i32.const 0x100) (i32.const 0x108)))
    (call $want (i32.const 19) (call $sock_recv (local.get $fd) (i32.const 0x200) (i32.const 1) (i32.const 0) (i32.const 0x100) (i32.const 0x108)))
    (call $want (i32.const 20) (call $sock_recv (local.get $fd) (i32.const 0x230) (i32.const 1) (i32.const 0) (i32.const 0xfffffff0) (i32.const 0x108)))
    (call $want (i32.const 21) (call $sock_recv (local.get $fd) (i32.const 0x230) (i32.const 1) (i32.const 0) (i32.const 0x100) (i32.const 0xfffffff0)))
    (call $want (i32.const 22) (call $sock_send (local.get $fd) (i32.const 0xfffffff0) (i32.const 1) (i32.const 0) (i32.const 0x100)))
    (call $want (i32.const 23) (call $sock_send (local.get $fd) (i32.const 0x200) (i32.const 1) (i32.const 0) (i32.const 0x100)))
    (call $want (i32.const 24) (call $sock_send (local.get $fd) (i32.const 0x230) (i32.const 1) (i32.const 0) (i32.const 0xfffffff0)))
    (call $want (i32.const 25) (call $sock_accept (local.get $fd) (i32.const 0) (i32.const 0xfffffff0)))
    ;; poll_oneoff
    (call $want (i32.const 26) (call $poll_oneoff (i32.const 0xfffffff0) (i32.const 0x600) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 27) (call $poll_oneoff (i32.const 0x400) (i32.const 0xfffffff0) (i32.const 1) (i32.const 0x100)))
    (call $want (i32.const 28) (call $poll_oneoff (i32.const 0x400) (i32.const 0x600) (i32.const 1) (i32.const 0xfffffff0)))
    (call $want (i32.const 29) (call $poll_oneoff (i32.const 0) (i32.const 0x600) (i32.const 0x05555556) (i32.const 0x100)))
    ;; clocks, random
    (call $want (i32.const 30) (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 0xfffffff0)))
    (call $want (i32.const 31) (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 0xfffc)))
    (call $want (i32.const 32) (call $clock_res_get (i32.const 1) (i32.const 0xfffffff0)))
    (call $want (i32.const 33) (call $random_get (i32.const 0xfffffff0) (i32.const 16)))
    (call $want (i32.const 34) (call $random_get (i32.const 0x100) (i32.const 0xfffffff0)))
    (call $want (i32.const 35) (call $random_get (i32.const 0xfff0) (i32.const 0x20)))
    ;; args
    (call $want (i32.const 36) (call $args_sizes_get (i32.const 0xfffffff0) (i32.const 0x100)))
    (call $want (i32.const 37) (call $args_sizes_get (i32.const 0x100) (i32.const 0xfffffff0)))
    (i64.store (i32.const 0x180) (i64.const -1))
    (local.set $e (call $args_sizes_get (i32.const 0x180) (i32.const 0x184)))
    (if (local.get $e)
      (then (call $note (i32.const 38) (local.get $e) (i32.const 0)))
      (else (call $want_or_zero (i32.const 38)
        (call $args_get (i32.const 0xfffffff0) (i32.const 0xfffffff0))
        (i64.eqz (i64.load (i32.const 0x180))))))
    ;; environ
    (call $want (i32.const 39) (call $environ_sizes_get (i32.const 0xfffffff0) (i32.const 0x100)))
    (call $want (i32.const 40) (call $environ_sizes_get (i32.const 0x100) (i32.const 0xfffffff0)))
    (i64.store (i32.const 0x180) (i64.const -1))
    (local.set $e (call $environ_sizes_get (i32.const 0x180) (i32.const 0x184)))
    (if (local.get $e)
      (then (call $note (i32.const 41) (local.get $e) (i32.const 0)))
      (else (call $want_or_zero (i32.const 41)
        (call $environ_get (i32.const 0xfffffff0) (i32.const 0xfffffff0))
        (i64.eqz (i64.load (i32.const 0x180))))))
    ;; fd metadata
    (call $want (i32.const 42) (call $fd_fdstat_get (local.get $fd) (i32.const 0xfffffff0)))
    (call $want (i32.const 43) (call $fd_filestat_get (local.get $fd) (i32.const 0xfffffff0)))
    (call $want_or_badf (i32.const 44) (call $fd_prestat_get (local.get $fd) (i32.const 0xfffffff0)))
    (call $want_or_badf (i32.const 45) (call $fd_prestat_dir_name (local.get $fd) (i32.const 0xfffffff0) (i32.const 16)))
    (call $want (i32.const 46) (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 0xfffffff0)))
    (call $want (i32.const 47) (call $fd_tell (local.get $fd) (i32.const 0xfffffff0)))
    (call $want (i32.const 48) (call $fd_readdir (local.get $fd) (i32.const 0xfffffff0) (i32.const 64) (i64.const 0) (i32.const 0x100)))
    (call $want (i32.const 49) (call $fd_readdir (local.get $fd) (i32.const 0x1000) (i32.const 64) (i64.const 0) (i32.const 0xfffffff0)))
    ;; paths
    (call $want (i32.const 50) (call $path_open (local.get $fd) (i32.const 0) (i32.const 0xfffffff0) (i32.const 16)
      (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0x100)))
    (call $want (i32.const 51) (call $path_open (local.get $fd) (i32.const 0) (i32.const 0x500) (i32.const 1)
      (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0xfffffff0)))
    (call $want (i32.const 52) (call $path_filestat_get (local.get $fd) (i32.const 0) (i32.const 0xfffffff0) (i32.const 16) (i32.const 0x1000)))
    (call $want (i32.const 53) (call $path_filestat_get (local.get $fd) (i32.const 0) (i32.const 0x500) (i32.const 1) (i32.const 0xfffffff0)))
    (call $want (i32.const 54) (call $path_filestat_set_times (local.get $fd) (i32.const 0) (i32.const 0xfffffff0) (i32.const 16)
      (i64.const 0) (i64.const 0) (i32.const 0)))
    (call $want (i32.const 55) (call $path_create_directory (local.get $fd) (i32.const 0xfffffff0) (i32.const 16)))
    (call $want (i32.const 56) (call $path_remove_directory (local.get $fd) (i32.const 0xfffffff0) (i32.const 16)))
    (call $want (i32.const 57) (call $path_unlink_file (local.get $fd) (i32.const 0xfffffff0) (i32.const 16)))
    (call $want (i32.const 58) (call $path_readlink (local.get $fd) (i32.const 0xfffffff0) (i32.const 16) (i32.const 0x1000) (i32.const 64) (i32.const 0x100)))
    (call $want (i32.const 59) (call $path_readlink (local.get $fd) (i32.const 0x500) (i32.const 1) (i32.const 0xfffffff0) (i32.const 64) (i32.const 0x100)))
    (call $want (i32.const 60) (call $path_rename (local.get $fd) (i32.const 0xfffffff0) (i32.const 16) (local.get $fd) (i32.const 0x500) (i32.const 1)))
    (call $want (i32.const 61) (call $path_rename (local.get $fd) (i32.const 0x500) (i32.const 1) (local.get $fd) (i32.const 0xfffffff0) (i32.const 16)))
    (call $want (i32.const 62) (call $path_symlink (i32.const 0xfffffff0) (i32.const 16) (local.get $fd) (i32.const 0x500) (i32.const 1)))
    (call $want (i32.const 63) (call $path_link (local.get $fd) (i32.const 0) (i32.const 0xfffffff0) (i32.const 16) (local.get $fd) (i32.const 0x500) (i32.const 1)))

    (if (i32.ge_s (global.get $first) (i32.const 0))
      (then (return (i32.sub (i32.const -1000) (global.get $first)))))
    (i32.const -21))
)
