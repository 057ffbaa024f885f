package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/water-pt/water-pt/watm"
)

// Module files come from bridge lines (watm=/abs/path.wasm), so a line can
// name any file: a device, a FIFO, a huge file. Before anything is read the
// file is stat'ed (a regular file, at most the maximum file size), then its
// 8-byte header (magic and version) is checked before the rest is read. The
// outcome for an unchanged file (same path, size and modification time) is
// remembered, failures too, so a bad bridge line costs one read, not one
// per connection.

// DefaultMaxFileSize is WithMaxFileSize's default: 32 MiB, four times
// the largest Go module we know of.
const DefaultMaxFileSize = 32 << 20

// wasmHeader is the WebAssembly binary magic and version 1.
var wasmHeader = []byte("\x00asm\x01\x00\x00\x00")

// fileEntry is what a module file gave when it had this size and time.
type fileEntry struct {
	size    int64
	modTime time.Time
	m       *watm.Module
	err     error // a failure, remembered until the file changes
}

func (c *Catalog) loadFile(ctx context.Context, path string) (*watm.Module, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("watm: module file: %w", err)
	}
	c.mu.Lock()
	e, ok := c.files[path]
	c.mu.Unlock()
	if ok && e.size == st.Size() && e.modTime.Equal(st.ModTime()) {
		return e.m, e.err
	}
	m, err := c.loadFileOnce(ctx, path, st)
	if ctx.Err() != nil && err != nil {
		return nil, err // cancelled: nothing learnt about the file
	}
	c.mu.Lock()
	c.files[path] = fileEntry{size: st.Size(), modTime: st.ModTime(), m: m, err: err}
	c.mu.Unlock()
	return m, err
}

// loadFileOnce checks, reads and compiles the file st describes.
func (c *Catalog) loadFileOnce(ctx context.Context, path string, st os.FileInfo) (*watm.Module, error) {
	b, err := readModuleFile(path, st, c.cfg.maxSize)
	if err != nil {
		return nil, err
	}
	load := c.rt.Load
	if c.cfg.trustFiles {
		load = c.rt.LoadTrusted
	}
	m, err := load(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, path)
	}
	return m, nil
}

// readModuleFile reads a module file of at most limit bytes, checking what
// it can before reading: the type and size (again on the open file, which
// may have been replaced since the stat), then the header.
func readModuleFile(path string, st os.FileInfo, limit int64) ([]byte, error) {
	if err := checkModuleStat(path, st, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the path have become a FIFO, open does not wait.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("watm: module file: %w", err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("watm: module file: %w", err)
	}
	if err := checkModuleStat(path, st, limit); err != nil {
		return nil, err
	}
	b := make([]byte, len(wasmHeader), max(st.Size(), int64(len(wasmHeader))))
	if _, err := io.ReadFull(f, b); err != nil || !bytes.Equal(b, wasmHeader) {
		return nil, fmt.Errorf("watm: module file %s is not a WebAssembly module (no \\0asm version 1 header): "+
			"check that %s= names a .wasm file", path, ArgModule)
	}
	b, err = readUpTo(f, b, limit)
	if err != nil {
		return nil, fmt.Errorf("watm: module file %s: %w", path, err)
	}
	return b, nil
}

// checkModuleStat refuses what is not a regular file of at most limit bytes.
func checkModuleStat(path string, st os.FileInfo, limit int64) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("watm: module file %s is not a regular file (%s): %s= must name a .wasm file",
			path, st.Mode().Type(), ArgModule)
	}
	if st.Size() > limit {
		return fmt.Errorf("watm: module file %s is %d bytes, more than the limit of %d: "+
			"check that %s= names the right file, or raise -watm-max-size", path, st.Size(), limit, ArgModule)
	}
	return nil
}

// readUpTo appends the rest of r to b, failing past limit bytes in all (a
// file that grows while it is read).
func readUpTo(r io.Reader, b []byte, limit int64) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	n, err := buf.ReadFrom(io.LimitReader(r, limit-int64(len(b))+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b))+n > limit {
		return nil, errors.New("grew past the size limit while being read")
	}
	return buf.Bytes(), nil
}
