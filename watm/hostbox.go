package watm

import (
	"encoding/binary"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/water-pt/water-pt/watm/internal/wasip1"
	"golang.org/x/crypto/nacl/secretbox"
)

// Host-provided crypto, optional for modules and found through WASI alone.
//
// A module that imports path_open and fd_prestat_get gets a preopened
// directory named servicesDir ("/water"). path_open(dirfd, "secretbox",
// rights fd_read|fd_write) gives a descriptor of its own: a secretbox
// context (golang.org/x/crypto/nacl/secretbox on the host, with its native
// code), spoken to with fd_write (a request) and fd_read (its reply). A
// host without the service has no such preopen, or answers path_open with
// ENOENT: the module then seals and opens in WebAssembly. Nothing is
// imported from env, so a module that uses the service still instantiates
// on any WASI host. /water/curve25519 (hostcurve.go) is a second service
// spoken to the same way.
//
// Requests: a 12-byte header of little-endian u32s op, count, body_len,
// then body_len bytes. A request may span several fd_write calls; a call
// takes bytes only up to the end of the current request (a short write).
//
//	op 1 key:  count 0, body the 32-byte key. No reply. Once per descriptor.
//	op 2 seal: count n in 1..boxMaxCount, body n records nonce(24) |
//	           len(u32), then the n messages back to back (len bytes each,
//	           at most boxMaxBytes in all). Reply: u32 n, then the n boxes
//	           (secretbox.Seal, len+16 bytes each).
//	op 3 open: as seal, the records giving each box's length (at least 16),
//	           then the boxes. Reply: u32 k, the number of boxes, from the
//	           first, that opened, then their k messages; k < n means box k
//	           failed authentication.
//
// fd_write errnos: EINVAL for a malformed request (unknown op, count or
// length out of bounds, body_len not what the records add up to, a second
// key, seal or open before the key): the request is discarded; EBUSY when
// the previous reply is not read yet; EFAULT and EBADF as every fd_write.
// fd_read returns the pending reply (several calls may read it); with no
// reply pending it returns 0 bytes. A descriptor holds at most one request
// and one reply (about 72 KiB each), and an instance at most WithMaxFDs
// descriptors.
const (
	servicesDir     = "/water"
	secretboxName   = "secretbox"
	boxHeaderLength = 12
	boxRecordLength = 24 + 4
	// boxMaxCount and boxMaxBytes bound one request: a 32 KiB write of
	// obfs4 is about 25 frames, a full read buffer about 16, but a hostile
	// peer's 16-byte frames make a guest batch many small boxes.
	boxMaxCount = 256
	boxMaxBytes = 64 << 10
	boxOpKey    = 1
	boxOpSeal   = 2
	boxOpOpen   = 3
)

// importsServices reports whether a module can find and open the host's
// services: only then is servicesDir preopened for it (a module that cannot
// use it keeps its fd numbers as before).
func importsServices(c wazero.CompiledModule) bool {
	var open, prestat bool
	for _, def := range c.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod == wasiModuleName {
			open = open || name == "path_open"
			prestat = prestat || name == "fd_prestat_get"
		}
	}
	return open && prestat
}

// newServicesDir is the preopened directory of the host's services.
func newServicesDir() *wasip1.DirFile {
	return wasip1.NewDir(servicesDir, map[string]func() wasip1.File{
		secretboxName: func() wasip1.File { return &serviceFile{svc: &boxService{}} },
		curveName:     func() wasip1.File { return &serviceFile{svc: curveService{}} },
	})
}

// service is what one kind of /water descriptor does with its requests
// (the 12-byte header above, then the body).
type service interface {
	// checkHeader refuses a request before its body is taken.
	checkHeader(op, n, body int) wasip1.Errno
	// run carries out a whole request and appends its reply, if any, to
	// reply.
	run(op, n int, body, reply []byte) ([]byte, wasip1.Errno)
}

// serviceFile is one descriptor of a /water service: the request being
// received and the reply not yet read. Its buffers are bounded by the
// service's checkHeader.
type serviceFile struct {
	mu    sync.Mutex
	svc   service
	req   []byte
	reply []byte
	roff  int
}

func (f *serviceFile) Filetype() uint8             { return wasip1.FiletypeCharDevice }
func (f *serviceFile) Pollfd() int                 { return -1 }
func (f *serviceFile) Shutdown(uint8) wasip1.Errno { return wasip1.ENOTSOCK }
func (f *serviceFile) Close() error                { return nil }

func (f *serviceFile) Read(p []byte, _ bool) (int, wasip1.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := copy(p, f.reply[f.roff:])
	f.roff += n
	if f.roff == len(f.reply) {
		f.reply, f.roff = f.reply[:0], 0
	}
	return n, wasip1.ESUCCESS
}

// Write takes bytes up to the end of the current request and runs the
// request once it is whole.
func (f *serviceFile) Write(p []byte, _ bool) (int, wasip1.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.roff < len(f.reply) {
		return 0, wasip1.EBUSY
	}
	taken := 0
	for {
		if body, ok := f.bodyLength(); ok && len(f.req) == boxHeaderLength+body {
			var e wasip1.Errno
			f.reply, e = f.svc.run(boxU32(f.req, 0), boxU32(f.req, 4), f.req[boxHeaderLength:], f.reply[:0])
			f.req = f.req[:0]
			if e != wasip1.ESUCCESS {
				f.reply = f.reply[:0]
				return 0, e
			}
			return taken, wasip1.ESUCCESS
		}
		if taken == len(p) {
			return taken, wasip1.ESUCCESS
		}
		k := min(f.missing(), len(p)-taken)
		f.req = append(f.req, p[taken:taken+k]...)
		taken += k
		if len(f.req) == boxHeaderLength {
			if e := f.svc.checkHeader(boxU32(f.req, 0), boxU32(f.req, 4), boxU32(f.req, 8)); e != wasip1.ESUCCESS {
				f.req = f.req[:0]
				return 0, e
			}
		}
	}
}

// bodyLength is the current request's body_len, once its header is in.
func (f *serviceFile) bodyLength() (int, bool) {
	if len(f.req) < boxHeaderLength {
		return 0, false
	}
	return boxU32(f.req, 8), true
}

// missing is how many bytes the current request still lacks: of its
// header first, then of its body.
func (f *serviceFile) missing() int {
	if body, ok := f.bodyLength(); ok {
		return boxHeaderLength + body - len(f.req)
	}
	return boxHeaderLength - len(f.req)
}

func boxU32(b []byte, off int) int { return int(binary.LittleEndian.Uint32(b[off:])) }

// boxService is one secretbox context: its key, once set.
type boxService struct {
	key *[32]byte
}

func (f *boxService) checkHeader(op, n, body int) wasip1.Errno {
	switch op {
	case boxOpKey:
		if n != 0 || body != 32 || f.key != nil {
			return wasip1.EINVAL
		}
	case boxOpSeal, boxOpOpen:
		if n < 1 || n > boxMaxCount || f.key == nil ||
			body < n*boxRecordLength || body > n*boxRecordLength+boxMaxBytes {
			return wasip1.EINVAL
		}
	default:
		return wasip1.EINVAL
	}
	return wasip1.ESUCCESS
}

func (f *boxService) run(op, n int, body, reply []byte) ([]byte, wasip1.Errno) {
	if op == boxOpKey {
		f.key = (*[32]byte)(append([]byte(nil), body...))
		return reply, wasip1.ESUCCESS
	}
	recs, data := body[:n*boxRecordLength], body[n*boxRecordLength:]
	total := 0
	for i := range n {
		l := boxU32(recs, i*boxRecordLength+24)
		if op == boxOpOpen && l < secretbox.Overhead {
			return reply, wasip1.EINVAL
		}
		total += l
	}
	if total != len(data) {
		return reply, wasip1.EINVAL
	}
	if op == boxOpSeal {
		return f.seal(n, recs, data, reply), wasip1.ESUCCESS
	}
	return f.open(n, recs, data, reply), wasip1.ESUCCESS
}

func (f *boxService) seal(n int, recs, data, reply []byte) []byte {
	reply = binary.LittleEndian.AppendUint32(reply, uint32(n))
	for i := range n {
		rec := recs[i*boxRecordLength:]
		l := boxU32(rec, 24)
		reply = secretbox.Seal(reply, data[:l], (*[24]byte)(rec[:24]), f.key)
		data = data[l:]
	}
	return reply
}

func (f *boxService) open(n int, recs, data, reply []byte) []byte {
	reply = binary.LittleEndian.AppendUint32(reply, 0)
	for i := range n {
		rec := recs[i*boxRecordLength:]
		l := boxU32(rec, 24)
		out, ok := secretbox.Open(reply, data[:l], (*[24]byte)(rec[:24]), f.key)
		if !ok {
			break
		}
		reply = out
		binary.LittleEndian.PutUint32(reply, uint32(i+1))
		data = data[l:]
	}
	return reply
}
