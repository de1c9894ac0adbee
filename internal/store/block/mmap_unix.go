//go:build unix

package block

import (
	"os"
	"syscall"
)

// mapFile maps the first n bytes of f read-only, or returns nil when it
// cannot (the row reader then reads with pread).
func mapFile(f *os.File, n int64) []byte {
	if n <= 0 || n != int64(int(n)) {
		return nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return b
}

// unmapFile releases a mapping of mapFile.
func unmapFile(b []byte) error { return syscall.Munmap(b) }
