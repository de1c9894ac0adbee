package block

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/clew-dev/clew/internal/model"
)

// Reading several search candidates of a block at once. A search reads
// its candidates whole, about twenty at a time; read one by one, each
// makes an open and a read of the index for its entry, and reads and
// decompresses the ~50 pages holding its rows. TracesAt reads a block's
// candidates in row order: their index entries with one read per run of
// the index, their pages with one read per run of nearby pages, and
// through one rowScan, which keeps each column's last page, so that a
// page holding rows of several candidates (a column's page holds some
// thousands of rows: neighbouring candidates share them) is decompressed
// once. Nothing is kept after the call.

// maxTracesAt bounds the candidates of one TracesAt call.
const maxTracesAt = 1024

// TraceRead is a trace read by TracesAt: the trace id of an index entry
// and the trace's spans in this block.
type TraceRead struct {
	Ordinal int
	ID      model.TraceID
	Spans   []*model.Span
}

// TracesAt reads the traces of index entries ordinals (Candidates'
// Ordinals) as TraceAt does, together: the candidates are read in row
// order, their pages with one read per run of nearby pages, and each page
// decompressed once for all of them. The result has one entry per
// distinct ordinal, in increasing ordinal (row) order. An error (a damaged
// entry or page, ErrCorrupt) fails the whole call; TraceAt reads the
// candidates one by one to tell which.
func (r *Reader) TracesAt(ctx context.Context, ordinals []int) ([]TraceRead, error) {
	if len(ordinals) > maxTracesAt {
		return nil, fmt.Errorf("%d traces in one read, at most %d", len(ordinals), maxTracesAt)
	}
	if len(ordinals) == 0 {
		return nil, nil
	}
	ords := slices.Clone(ordinals)
	slices.Sort(ords)
	ords = slices.Compact(ords)
	out := make([]TraceRead, len(ords))
	spans := make([][2]int64, len(ords)) // rows [lo, hi) of each
	if err := r.entriesRows(ctx, ords, out, spans); err != nil {
		return nil, err
	}
	var rows int64
	for i, sp := range spans {
		if i > 0 && sp[0] < spans[i-1][1] {
			return nil, fmt.Errorf("%w: index entries %d and %d overlap", ErrCorrupt, out[i-1].Ordinal, out[i].Ordinal)
		}
		if rows += sp[1] - sp[0]; rows > 1<<20 {
			return nil, fmt.Errorf("%d rows in one read", rows)
		}
	}
	all := make([]Row, rows)
	byTrace := make([][]Row, len(ords))
	for i, sp := range spans {
		byTrace[i], all = all[:sp[1]-sp[0]:sp[1]-sp[0]], all[sp[1]-sp[0]:]
	}
	src, err := r.rowSource()
	if err == nil {
		err = src.readTraces(spans, byTrace)
	}
	if errors.Is(err, errUnsupported) {
		// parquet-go's reader, one trace at a time.
		err = nil
		for i, sp := range spans {
			clear(byTrace[i])
			if err = r.readRows(sp[0], byTrace[i]); err != nil {
				break
			}
		}
	} else if err == nil {
		for i := range byTrace {
			if err = r.finishRows(byTrace[i]); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	var b spanBuilder
	for i := range out {
		tr := &out[i]
		rs := byTrace[i]
		tr.Spans = make([]*model.Span, 0, len(rs))
		for j := range rs {
			if rs[j].TraceID != tr.ID {
				return nil, fmt.Errorf("%w: index points at rows of another trace", ErrCorrupt)
			}
			tr.Spans = append(tr.Spans, b.ToSpan(&rs[j]))
		}
	}
	return out, nil
}

// finishRows completes the rows of one trace read by the row reader, as
// readRows does after its read.
func (r *Reader) finishRows(rows []Row) error {
	return resolveParents(rows, r.slotKeys)
}

// maxIndexRun bounds the bytes of index entries TracesAt reads at once:
// entries of ordinals less than this apart are read with one read.
const maxIndexRun = 64 << 10

// entriesRows sets the trace id of index entries ords (increasing) in
// out and their rows [lo, hi) in spans, with one range read of the index
// per run of entries less than maxIndexRun bytes apart.
func (r *Reader) entriesRows(ctx context.Context, ords []int, out []TraceRead, spans [][2]int64) error {
	if len(ords) == 0 {
		return nil
	}
	if ords[0] < 0 || ords[len(ords)-1] >= r.nIndex {
		return fmt.Errorf("%w: index entries %d to %d of %d", ErrCorrupt, ords[0], ords[len(ords)-1], r.nIndex)
	}
	var buf []byte
	for i := 0; i < len(ords); {
		if err := ctx.Err(); err != nil {
			return err
		}
		first := ords[i]
		j := i + 1
		for j < len(ords) && (ords[j]-first+2)*IndexEntrySize <= maxIndexRun {
			j++
		}
		// The entries first to ords[j-1], and the one after it for its end.
		end := min(ords[j-1]+2, r.nIndex)
		buf = grow(buf, (end-first)*IndexEntrySize)
		if err := r.be.ReadRange(ctx, r.meta.ID, IndexName, int64(len(indexMagic)+first*IndexEntrySize), buf); err != nil {
			return fmt.Errorf("read index: %w", err)
		}
		for ; i < j; i++ {
			o := ords[i]
			e := buf[(o-first)*IndexEntrySize:]
			var id model.TraceID
			copy(id[:], e[:16])
			lo, hi := int64(binary.LittleEndian.Uint32(e[16:])), r.meta.Spans
			if o+1 < r.nIndex {
				hi = int64(binary.LittleEndian.Uint32(e[IndexEntrySize+16:]))
			}
			if hi > r.meta.Spans || lo >= hi || hi-lo > int64(maxTraceRows) {
				return fmt.Errorf("%w: index entry [%d, %d) outside the data", ErrCorrupt, lo, hi)
			}
			out[i].Ordinal, out[i].ID, spans[i] = o, id, [2]int64{lo, hi}
		}
	}
	return nil
}

// scanPool keeps the page buffers of TracesAt's row scans between calls;
// a scan is put back with no page loaded.
var scanPool = sync.Pool{New: func() any { return newRowScan() }}

// maxPooledScanBytes bounds the buffers a pooled scan keeps.
const maxPooledScanBytes = 8 << 20

func putScan(scan *rowScan) {
	n := 0
	for i := range scan.pages {
		lp := &scan.pages[i]
		lp.page, lp.rep, lp.def, lp.vals, lp.decoded = -1, nil, nil, nil, false
		n += cap(lp.raw) + cap(lp.dec)
	}
	if n <= maxPooledScanBytes {
		scanPool.Put(scan)
	}
}

// invalidate forgets the scan's pages (whose bytes may be in a prefetch
// buffer about to be reused).
func (scan *rowScan) invalidate() {
	for i := range scan.pages {
		scan.pages[i].page = -1
	}
}

// readTraces reads the rows ranges[i] into rows[i], for ranges in
// increasing order without overlap, through one scan: the pages of a run
// of ranges are fetched together (up to maxPrefetchBytes at a time) and
// each decompressed once.
func (s *rowSource) readTraces(ranges [][2]int64, rows [][]Row) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: data: row reader: %v", ErrCorrupt, p)
		}
	}()
	defer s.pin()()
	for i := 1; i < len(ranges); i++ {
		if ranges[i][0] < ranges[i-1][1] {
			return fmt.Errorf("%w: rows %d and %d overlap", ErrCorrupt, ranges[i-1][0], ranges[i][0])
		}
	}
	sc := scratchPool.Get().(*rowScratch)
	defer putScratch(sc)
	scan := scanPool.Get().(*rowScan)
	defer putScan(scan)
	seen := map[int64]struct{}{}
	for i := 0; i < len(ranges); {
		// The next run of ranges whose pages fit one prefetch.
		clear(seen)
		plan := sc.plan[:0]
		var total int64
		j := i
		for ; j < len(ranges); j++ {
			mark := len(plan)
			var add int64
			plan, add = s.planPages(plan, seen, ranges[j][0], ranges[j][1])
			if j > i && total+add > maxPrefetchBytes {
				for _, p := range plan[mark:] {
					delete(seen, p.off)
				}
				plan = plan[:mark]
				break
			}
			total += add
		}
		sc.plan = plan
		scan.invalidate()
		if err := s.fetch(sc, plan); err != nil {
			return fmt.Errorf("%w: data: %v", ErrCorrupt, err)
		}
		for ; i < j; i++ {
			if err := s.readRows(sc, scan, ranges[i][0], rows[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// planPages appends to plan the pages rows [a, b) need that seen does not
// hold yet, adds them to seen, and returns their bytes.
func (s *rowSource) planPages(plan []byteRange, seen map[int64]struct{}, a, b int64) ([]byteRange, int64) {
	var add int64
	var start int64
	for g := range s.groups {
		gi := &s.groups[g]
		end := start + gi.rows
		if a < end && b > start {
			ga, gb := max(a, start)-start, min(b, end)-start
			for l := range gi.chunks {
				ch := &gi.chunks[l]
				if ch.allNull {
					continue
				}
				p := sort.Search(len(ch.pages), func(i int) bool { return ch.pages[i].firstRow > ga }) - 1
				for p = max(p, 0); p < len(ch.pages) && ch.pages[p].firstRow < gb; p++ {
					loc := &ch.pages[p]
					if loc.allNull {
						continue
					}
					if _, ok := seen[loc.offset]; ok {
						continue
					}
					seen[loc.offset] = struct{}{}
					plan = append(plan, byteRange{off: loc.offset, end: loc.offset + int64(loc.size)})
					add += int64(loc.size)
				}
			}
		}
		start = end
	}
	return plan, add
}

// fetch reads the pages of plan into sc's prefetch buffer, with one read
// per run of pages less than prefetchGap apart; beyond maxPrefetchBytes
// it reads nothing and pages are then read one by one. When the file is
// mapped (rowSource.mapped), the pages are slices of the mapping instead.
func (s *rowSource) fetch(sc *rowScratch, plan []byteRange) error {
	slices.SortFunc(plan, func(a, b byteRange) int { return cmp.Compare(a.off, b.off) })
	merged := sc.pre[:0]
	var total int64
	for _, r := range plan {
		if n := len(merged); n > 0 && r.off-merged[n-1].end <= prefetchGap && r.off >= merged[n-1].off {
			total += max(r.end-merged[n-1].end, 0)
			merged[n-1].end = max(merged[n-1].end, r.end)
			continue
		}
		merged = append(merged, byteRange{off: r.off, end: r.end})
		total += r.end - r.off
	}
	if s.mapped != nil {
		// The pages are slices of the mapped file (held by the caller's
		// pin): no read, no copy.
		for i := range merged {
			r := &merged[i]
			if r.off < 0 || r.end > int64(len(s.mapped)) {
				sc.pre = merged[:0]
				return fmt.Errorf("pages [%d, %d) past the file", r.off, r.end)
			}
			r.b = s.mapped[r.off:r.end:r.end]
		}
		sc.pre = merged
		return nil
	}
	if total > maxPrefetchBytes {
		sc.pre = merged[:0]
		return nil
	}
	sc.preBuf = grow(sc.preBuf, int(total))
	buf := sc.preBuf
	for i := range merged {
		r := &merged[i]
		r.b, buf = buf[:r.end-r.off], buf[r.end-r.off:]
		if _, err := s.ra.ReadAt(r.b, r.off); err != nil {
			sc.pre = merged[:0]
			return fmt.Errorf("read pages: %w", err)
		}
	}
	sc.pre = merged
	return nil
}

// readRows reads rows [first, first+len(rows)) with scan, from the pages
// fetched into sc (or read one by one).
func (s *rowSource) readRows(sc *rowScratch, scan *rowScan, first int64, rows []Row) error {
	var start int64
	for g := range s.groups {
		gi := &s.groups[g]
		end := start + gi.rows
		if len(rows) > 0 && first < end && first >= start {
			n := min(int64(len(rows)), end-first)
			if err := s.readLeaves(sc, scan, g, first-start, first-start+n, rows[:n]); err != nil {
				return err
			}
			rows = rows[n:]
			first += n
		}
		start = end
	}
	if len(rows) > 0 {
		return fmt.Errorf("%w: row %d past the data", ErrCorrupt, first)
	}
	return nil
}
