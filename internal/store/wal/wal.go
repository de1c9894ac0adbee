// Package wal is Clew's write-ahead log: a directory of numbered segment files
// holding checksummed records. Appends are group-committed: concurrent
// appenders share one write and one fsync, and Append returns only once its
// record is on disk. Open replays every segment, detects a torn or corrupt
// tail by checksum, truncates it and reports it; it never fails start-up for
// damaged data and never drops the good records before the damage.
//
// The byte layout is described in FORMAT.md beside this file.
package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Format constants; see FORMAT.md.
const (
	// Magic starts every segment: "CLEWWAL" and the format version.
	Magic = "CLEWWAL\x01"
	// HeaderSize is the size of a record header: length and CRC-32C.
	HeaderSize = 8
	// MaxRecordSize is the largest payload a record may hold.
	MaxRecordSize = 64 << 20
	segmentSuffix = ".wal"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("wal: closed")

// Options configure a WAL. Zero values take the defaults.
type Options struct {
	// SegmentSize is the size after which the writer starts a new
	// segment (default 64 MiB).
	SegmentSize int64
	// SyncInterval, when positive, makes the writer gather appends for at
	// most this long before one write and fsync; when zero the writer
	// writes and fsyncs as soon as a record waits, and appends arriving
	// during an fsync share the next one (group commit). Append returns
	// after the fsync that covers its record in both cases.
	SyncInterval time.Duration
	// NoSync skips fsync (tests only: records then survive a process
	// crash but not a machine crash).
	NoSync bool
	// Logger receives a line per corrupt segment found by Open.
	Logger *slog.Logger
}

// DefaultSegmentSize is the default Options.SegmentSize.
const DefaultSegmentSize = 64 << 20

// Corruption describes damaged data found by Open.
type Corruption struct {
	Segment int   // segment number
	Offset  int64 // offset of the first bad byte
	Dropped int64 // bytes removed from the segment (from Offset to its end)
	Err     error // what was wrong
}

func (c Corruption) String() string {
	return fmt.Sprintf("segment %d at offset %d: %v (%d bytes dropped)", c.Segment, c.Offset, c.Err, c.Dropped)
}

// Report summarises a replay.
type Report struct {
	Segments    int
	Records     int
	Bytes       int64
	Corruptions []Corruption
	Duration    time.Duration
}

// WAL is an open write-ahead log. Its methods are safe for concurrent use.
type WAL struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond // signals the writer: records wait or closing
	buf      []byte     // framed records waiting for the writer
	waiters  []chan error
	closing  bool
	failed   error // sticky write/fsync error
	flushing bool  // the writer holds a group being written

	fileMu  sync.Mutex // guards f, seg, size (held by the writer and Rotate)
	f       *os.File
	seg     int
	size    int64
	done    chan struct{}
	written int64 // total bytes written, for metrics
}

// Open replays the segments in dir in order, calling replay with each good
// record's payload (which is only valid during the call), truncates damaged
// segments, and then opens a new segment for appends. replay returning an
// error stops Open with that error. dir is created when missing.
func Open(dir string, o Options, replay func(segment int, payload []byte) error) (*WAL, Report, error) {
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, Report{}, fmt.Errorf("create wal dir: %w", err)
	}
	start := time.Now()
	segs, err := Segments(dir)
	if err != nil {
		return nil, Report{}, err
	}
	rep := Report{Segments: len(segs)}
	for _, n := range segs {
		c, err := replaySegment(dir, n, &rep, replay)
		if err != nil {
			return nil, rep, err
		}
		if c != nil {
			rep.Corruptions = append(rep.Corruptions, *c)
			o.Logger.Warn("wal: damaged segment truncated", "segment", n, "offset", c.Offset, "dropped_bytes", c.Dropped, "err", c.Err)
		}
	}
	rep.Duration = time.Since(start)
	next := 1
	if len(segs) > 0 {
		next = segs[len(segs)-1] + 1
	}
	w := &WAL{dir: dir, opts: o, log: o.Logger, done: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	if err := w.openSegment(next); err != nil {
		return nil, rep, err
	}
	go w.run()
	return w, rep, nil
}

// Segments returns the numbers of the segment files in dir, ascending.
func Segments(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list wal dir: %w", err)
	}
	var out []int
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(name, segmentSuffix))
		if err != nil || n <= 0 {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// SegmentPath returns the file name of segment n in dir.
func SegmentPath(dir string, n int) string {
	return filepath.Join(dir, fmt.Sprintf("%010d%s", n, segmentSuffix))
}

func replaySegment(dir string, n int, rep *Report, replay func(int, []byte) error) (*Corruption, error) {
	path := SegmentPath(dir, n)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read wal segment %d: %w", n, err)
	}
	rep.Bytes += int64(len(data))
	r := NewReader(data)
	for {
		payload, err := r.Next()
		if err == errEOF {
			return nil, nil
		}
		if err != nil {
			c := &Corruption{Segment: n, Offset: r.Offset(), Dropped: int64(len(data)) - r.Offset(), Err: err}
			if terr := truncate(path, r.Offset()); terr != nil {
				return c, fmt.Errorf("truncate damaged wal segment %d: %w", n, terr)
			}
			return c, nil
		}
		rep.Records++
		if err := replay(n, payload); err != nil {
			return nil, fmt.Errorf("replay wal segment %d offset %d: %w", n, r.Offset(), err)
		}
	}
}

func truncate(path string, size int64) error {
	if size < int64(len(Magic)) {
		// Not even a valid header: the segment holds nothing.
		return os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	return errors.Join(err, f.Close())
}

var errEOF = errors.New("end of segment")

// Reader reads the records of one segment held in memory. It is what Open
// uses and what the fuzz target exercises.
type Reader struct {
	data []byte
	off  int64
}

// NewReader returns a reader over a whole segment, magic included.
func NewReader(data []byte) *Reader { return &Reader{data: data} }

// Offset returns the offset of the next record (or of the damage after
// Next returned an error).
func (r *Reader) Offset() int64 { return r.off }

// Next returns the next record's payload, which aliases the segment's
// bytes. It returns io.EOF-like errEOF at a clean end, and a descriptive
// error at damaged data; Offset then tells where the damage starts.
func (r *Reader) Next() ([]byte, error) {
	if r.off == 0 {
		if len(r.data) < len(Magic) || string(r.data[:len(Magic)]) != Magic {
			return nil, errors.New("bad segment magic")
		}
		r.off = int64(len(Magic))
	}
	rest := r.data[r.off:]
	if len(rest) == 0 {
		return nil, errEOF
	}
	if len(rest) < HeaderSize {
		return nil, fmt.Errorf("torn record header (%d bytes)", len(rest))
	}
	n := binary.LittleEndian.Uint32(rest)
	sum := binary.LittleEndian.Uint32(rest[4:])
	if n == 0 || n > MaxRecordSize {
		return nil, fmt.Errorf("bad record length %d", n)
	}
	if uint64(len(rest)-HeaderSize) < uint64(n) {
		return nil, fmt.Errorf("torn record: %d of %d bytes", len(rest)-HeaderSize, n)
	}
	payload := rest[HeaderSize : HeaderSize+int(n)]
	if crc32.Checksum(payload, castagnoli) != sum {
		return nil, errors.New("record checksum mismatch")
	}
	r.off += HeaderSize + int64(n)
	return payload, nil
}

// IsEOF reports whether err is the clean end of a segment returned by
// Reader.Next.
func IsEOF(err error) bool { return err == errEOF }

func (w *WAL) openSegment(n int) error {
	path := SegmentPath(w.dir, n)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create wal segment: %w", err)
	}
	if _, err := f.Write([]byte(Magic)); err != nil {
		f.Close()
		return fmt.Errorf("write wal segment header: %w", err)
	}
	if !w.opts.NoSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("sync wal segment: %w", err)
		}
		if err := syncDir(w.dir); err != nil {
			f.Close()
			return err
		}
	}
	w.f, w.seg, w.size = f, n, int64(len(Magic))
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for sync: %w", err)
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Append writes payload as one record and returns once it is durable (or
// the WAL failed). ctx only bounds the wait: a record already handed to the
// writer may still be written after ctx ends.
func (w *WAL) Append(ctx context.Context, payload []byte) error {
	if len(payload) == 0 || len(payload) > MaxRecordSize {
		return fmt.Errorf("wal: record of %d bytes: want 1 to %d", len(payload), MaxRecordSize)
	}
	// The checksum before taking the lock: other appenders and the
	// writer need not wait for it.
	var hdr [HeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(payload, castagnoli))
	done := donePool.Get().(chan error)
	w.mu.Lock()
	switch {
	case w.failed != nil:
		w.mu.Unlock()
		donePool.Put(done)
		return w.failed
	case w.closing:
		w.mu.Unlock()
		donePool.Put(done)
		return ErrClosed
	}
	w.buf = append(w.buf, hdr[:]...)
	w.buf = append(w.buf, payload...)
	w.waiters = append(w.waiters, done)
	w.cond.Signal()
	w.mu.Unlock()
	select {
	case err := <-done:
		donePool.Put(done)
		return err
	case <-ctx.Done():
		// done is not reused: the writer still sends to it.
		return fmt.Errorf("wal append: %w", ctx.Err())
	}
}

// donePool holds the channels appenders wait on (one buffered slot each),
// reused once drained.
var donePool = sync.Pool{New: func() any { return make(chan error, 1) }}

// run is the writer goroutine: it takes every waiting record, writes them
// with one write, fsyncs and wakes their appenders.
func (w *WAL) run() {
	defer close(w.done)
	var spare []byte
	for {
		w.mu.Lock()
		for len(w.waiters) == 0 && !w.closing {
			w.cond.Wait()
		}
		if len(w.waiters) == 0 && w.closing {
			w.mu.Unlock()
			return
		}
		if w.opts.SyncInterval > 0 && !w.closing {
			// Let more appends join this group.
			w.mu.Unlock()
			time.Sleep(w.opts.SyncInterval)
			w.mu.Lock()
		}
		buf, waiters := w.buf, w.waiters
		w.buf, w.waiters = spare[:0], nil
		w.flushing = true
		w.mu.Unlock()

		err := w.writeGroup(buf)

		w.mu.Lock()
		w.flushing = false
		if err != nil && w.failed == nil {
			w.failed = fmt.Errorf("wal: %w", err)
			w.log.Error("wal write failed; refusing further appends", "err", err)
		}
		if w.failed != nil {
			err = w.failed
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		for _, c := range waiters {
			c <- err
		}
		if cap(buf) <= 16<<20 {
			spare = buf
		} else {
			spare = nil
		}
	}
}

func (w *WAL) writeGroup(buf []byte) error {
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	if w.size > int64(len(Magic)) && w.size+int64(len(buf)) > w.opts.SegmentSize {
		if err := w.rotateLocked(); err != nil {
			return err
		}
	}
	if _, err := w.f.Write(buf); err != nil {
		return fmt.Errorf("write segment %d: %w", w.seg, err)
	}
	w.size += int64(len(buf))
	w.written += int64(len(buf))
	if !w.opts.NoSync {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("sync segment %d: %w", w.seg, err)
		}
	}
	return nil
}

func (w *WAL) rotateLocked() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close segment %d: %w", w.seg, err)
	}
	return w.openSegment(w.seg + 1)
}

// Rotate closes the current segment and starts a new one, returning the new
// segment's number. Records appended after Rotate returns go to that segment
// or later ones; records whose Append returned before Rotate was called are
// in earlier segments. The caller must ensure no Append is in progress when
// it needs that split to be exact.
func (w *WAL) Rotate() (int, error) {
	w.mu.Lock()
	for w.flushing || len(w.waiters) > 0 {
		if w.failed != nil {
			break
		}
		w.cond.Wait()
	}
	failed := w.failed
	w.mu.Unlock()
	if failed != nil {
		return 0, failed
	}
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	if err := w.rotateLocked(); err != nil {
		w.mu.Lock()
		if w.failed == nil {
			w.failed = fmt.Errorf("wal: %w", err)
		}
		w.mu.Unlock()
		return 0, err
	}
	return w.seg, nil
}

// RemoveBefore deletes every segment numbered below n (their records are
// safely elsewhere, for example in a block).
func (w *WAL) RemoveBefore(n int) error {
	segs, err := Segments(w.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range segs {
		if s >= n {
			break
		}
		if err := os.Remove(SegmentPath(w.dir, s)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove wal segment %d: %w", s, err))
		}
	}
	return errors.Join(errs...)
}

// Size returns the bytes the WAL's segments occupy on disk.
func (w *WAL) Size() int64 {
	segs, err := Segments(w.dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, s := range segs {
		if fi, err := os.Stat(SegmentPath(w.dir, s)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// Written returns the bytes appended since Open, framing included.
func (w *WAL) Written() int64 {
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	return w.written
}

// Close writes what waits, stops the writer and closes the segment.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return nil
	}
	w.closing = true
	w.cond.Broadcast()
	w.mu.Unlock()
	<-w.done
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	var err error
	if !w.opts.NoSync {
		err = w.f.Sync()
	}
	return errors.Join(err, w.f.Close())
}
