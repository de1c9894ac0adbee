package local

import "errors"

var errorsIs = errors.Is

// simulateCrash stops the store's goroutines and drops its files without
// flushing, as a kill would (the WAL's records are already written).
func (s *Store) simulateCrash() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.done.Wait()
	s.wal.Close()
	for _, b := range s.blocks {
		b.r.Close()
	}
}
