//go:build !unix

package block

import "os"

// mapFile maps nothing on this platform: the row reader reads with pread.
func mapFile(f *os.File, n int64) []byte { return nil }

// unmapFile releases a mapping of mapFile.
func unmapFile(b []byte) error { return nil }
