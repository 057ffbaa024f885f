package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procSnap is what the bench reads of one PT process at one moment.
type procSnap struct {
	PSSKB    int64 // proportional set size (/proc/PID/smaps_rollup Pss)
	RSSKB    int64 // VmRSS (/proc/PID/status)
	LinearKB int64 // PSS of the modules' linear memories (/proc/PID/smaps)
	LinearOK bool  // there are linear memories at all
	Threads  int   // /proc/PID/status Threads
	FDs      int   // entries of /proc/PID/fd
}

// snapshot reads pid's procSnap. The linear memories are read only when
// linear is set: walking smaps costs a few ms per thousand mappings.
func snapshot(pid int, linear bool) (procSnap, error) {
	var s procSnap
	var errs [3]error
	s.PSSKB, errs[0] = pssKB(pid)
	s.RSSKB, errs[1] = statusKB(pid, "VmRSS:")
	var threads int64
	threads, errs[2] = statusKB(pid, "Threads:")
	s.Threads = int(threads)
	s.FDs = countFDs(pid)
	if linear {
		s.LinearKB, s.LinearOK = linearKB(pid)
	}
	return s, errors.Join(errs[:]...)
}

// pssKB reads the Pss line of /proc/PID/smaps_rollup: each page counted
// divided by the number of processes and mappings sharing it. VmRSS counts a
// page shared copy-on-write between instances (a module's initial memory
// image) once per mapping, and overstates what a connection costs.
func pssKB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			return fieldKB(v)
		}
	}
	return 0, fmt.Errorf("no Pss in /proc/%d/smaps_rollup", pid)
}

func fieldKB(v string) (int64, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, fmt.Errorf("empty field %q", v)
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// linearKB sums the PSS of pid's WebAssembly linear memories, read from
// /proc/PID/smaps. watm maps each instance's memory as one reservation that
// starts with the module's initial image (a mapping of the memfd
// "watm-image") followed by anonymous read-write and PROT_NONE pages; a
// mapping counts when it is such an image mapping or continues one without a
// gap. The image's pages that no instance wrote are shared between all
// instances and count divided among them. ok is false when there is no such
// mapping at all (a PT without WebAssembly, or modules without an image).
func linearKB(pid int) (kb int64, ok bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return linearSmaps(f)
}

func linearSmaps(r io.Reader) (kb int64, ok bool) {
	var (
		in      bool
		lastEnd uint64
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if v, found := strings.CutPrefix(line, "Pss:"); found && in {
			n, _ := fieldKB(v)
			kb += n
			continue
		}
		fs := strings.Fields(line)
		if len(fs) < 5 || !strings.Contains(fs[0], "-") || len(fs[1]) != 4 {
			continue // a field line, not a mapping's header
		}
		lo, hi, _ := strings.Cut(fs[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			in = false
			continue
		}
		path := strings.Join(fs[5:], " ")
		switch {
		case strings.Contains(path, "memfd:watm-image"):
			in, ok = true, true
		case in && path == "" && start == lastEnd && (fs[1] == "rw-p" || fs[1] == "---p"):
		default:
			in = false
		}
		lastEnd = end
	}
	return kb, ok
}

func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			return fieldKB(v)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// countFDs counts the descriptors pid has open (-1 if it cannot be read).
func countFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// cpuNs sums the CPU time of every thread of pids
// (/proc/PID/task/TID/schedstat, first field, in ns).
func cpuNs(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if fs := strings.Fields(string(b)); len(fs) > 0 {
				n, _ := strconv.ParseInt(fs[0], 10, 64)
				sum += n
			}
		}
	}
	return sum
}

// raiseFDLimit raises this process's soft descriptor limit to the hard one
// and returns it. (Go raises it at start too, but says nothing of it.)
func raiseFDLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}
