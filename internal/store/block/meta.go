package block

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Object names of a block's files.
const (
	DataName  = "data.parquet"
	IndexName = "index"
	BloomName = "bloom"
	MetaName  = "meta.json"
)

// Operation is a span name and kind ("" when unspecified) of a service.
type Operation struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

// Meta describes a block; it is the block's meta.json, written last.
type Meta struct {
	Version  int    `json:"version"`
	ID       string `json:"id"`
	MinStart uint64 `json:"min_start_unix_nano"`
	MaxStart uint64 `json:"max_start_unix_nano"`
	Spans    int64  `json:"spans"`
	Traces   int64  `json:"traces"`
	// Services maps each service to its operations, sorted.
	Services map[string][]Operation `json:"services"`
	// Level is 0 for a block flushed from the head, one more than its
	// highest source for a compacted block.
	Level int `json:"level"`
	// Sources are the blocks a compacted block replaces.
	Sources []string `json:"sources,omitempty"`
	// WALSegment: every WAL segment numbered below it is in this block or
	// an earlier one (0 when unknown).
	WALSegment      int    `json:"wal_segment,omitempty"`
	CreatedUnixNano int64  `json:"created_unix_nano"`
	DataSize        int64  `json:"data_size"`
	DataCRC32C      uint32 `json:"data_crc32c"`
	IndexSize       int64  `json:"index_size"`
	BloomSize       int64  `json:"bloom_size"`
	// SearchSize is the size of the search index (0: the block has none,
	// as blocks written before it existed).
	SearchSize int64 `json:"search_size,omitempty"`
}

// Size returns the bytes of the block's files (meta excluded).
func (m *Meta) Size() int64 { return m.DataSize + m.IndexSize + m.BloomSize + m.SearchSize }

// NewID returns a new block id: the creation time in hex, then random
// bits, so that ids sort by creation.
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// ValidID reports whether id has NewID's form.
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: meta: %v", ErrCorrupt, err)
	}
	if m.Version < MinFormatVersion || m.Version > FormatVersion {
		return m, fmt.Errorf("block format version %d, this clew reads %d to %d", m.Version, MinFormatVersion, FormatVersion)
	}
	if m.Spans < 0 || m.Traces < 0 || m.Traces > m.Spans || m.MinStart > m.MaxStart && m.Spans > 0 {
		return m, fmt.Errorf("%w: meta: inconsistent counts or times", ErrCorrupt)
	}
	return m, nil
}
