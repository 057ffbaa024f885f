package tortest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// What a process holds, read from /proc (Linux): for tests and the bench
// that check a PT gives back what a burst of connections took.

// CountFDs counts the descriptors pid has open (-1 if it cannot be read).
func CountFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// StatusField reads the first number of a field of /proc/PID/status, such
// as "VmRSS:" (kB) or "Threads:".
func StatusField(pid int, field string) (int64, error) {
	return procField(fmt.Sprintf("/proc/%d/status", pid), field)
}

// PssKB reads the proportional set size of pid (kB, /proc/PID/smaps_rollup):
// its private memory plus its share of memory shared with other processes.
func PssKB(pid int) (int64, error) {
	return procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
}

func procField(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in %s", field, path)
}

// Threads counts pid's threads, and of them those not parked on a futex:
// the Go runtime keeps an OS thread it once needed, idle on a futex, for
// the life of the process, so a burst can raise the first number for good;
// the second counts threads doing something (running, or blocked in a
// system call such as a read or accept).
func Threads(pid int) (all, unparked int, err error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		wchan, err := os.ReadFile(dir + "/" + e.Name() + "/wchan")
		if err != nil {
			continue // the thread exited
		}
		all++
		if !strings.HasPrefix(string(wchan), "futex_") {
			unparked++
		}
	}
	return all, unparked, nil
}

// CPUTicks is the user plus system CPU time of process pid, from
// /proc/PID/stat, in clock ticks (USER_HZ, 100 a second on Linux).
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from after its ")".
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return utime + stime, nil
}
