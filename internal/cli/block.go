package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/clew-dev/clew/internal/store/block"
)

func init() {
	register(Command{Name: "block", Summary: "inspect or verify storage blocks: block inspect|verify PATH", Run: runBlock})
}

const blockUsage = `usage: clew block inspect|verify PATH

PATH is a block directory (holding meta.json), a directory of blocks (such as
DATA_DIR/blocks) or a data directory. inspect prints each block's metadata
and column sizes; verify reads every byte and row of each block, checks the
checksums, the row order, the trace-id index and the bloom filter, and exits
with status 1 if any block is damaged.
`

func runBlock(args []string, env Env) int {
	if len(args) != 2 || (args[0] != "inspect" && args[0] != "verify") {
		fmt.Fprint(env.Stderr, blockUsage)
		return 2
	}
	root, ids, err := findBlocks(args[1])
	if err != nil {
		fmt.Fprintf(env.Stderr, "clew block: %v\n", err)
		return 1
	}
	be, err := block.NewDir(root)
	if err != nil {
		fmt.Fprintf(env.Stderr, "clew block: %v\n", err)
		return 1
	}
	ctx := context.Background()
	bad := 0
	for _, id := range ids {
		r, err := block.Open(ctx, be, id)
		if err != nil {
			fmt.Fprintf(env.Stdout, "block %s: DAMAGED: %v\n", id, err)
			bad++
			continue
		}
		if args[0] == "inspect" {
			printBlock(env.Stdout, r)
		} else {
			start := time.Now()
			if err := r.Verify(ctx); err != nil {
				fmt.Fprintf(env.Stdout, "block %s: DAMAGED: %v\n", id, err)
				bad++
			} else {
				m := r.Meta()
				fmt.Fprintf(env.Stdout, "block %s: ok (%d spans, %d traces, %d bytes, checked in %v)\n", id, m.Spans, m.Traces, m.Size(), time.Since(start).Round(time.Millisecond))
			}
		}
		r.Close()
	}
	if bad > 0 {
		fmt.Fprintf(env.Stdout, "%d of %d blocks damaged\n", bad, len(ids))
		return 1
	}
	return 0
}

// findBlocks resolves PATH to a backend root and block ids.
func findBlocks(path string) (string, []string, error) {
	path = filepath.Clean(path)
	if _, err := os.Stat(filepath.Join(path, block.MetaName)); err == nil {
		return filepath.Dir(path), []string{filepath.Base(path)}, nil
	}
	for _, root := range []string{path, filepath.Join(path, "blocks")} {
		ents, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		var ids []string
		for _, e := range ents {
			if _, err := os.Stat(filepath.Join(root, e.Name(), block.MetaName)); err == nil {
				ids = append(ids, e.Name())
			}
		}
		if len(ids) > 0 {
			slices.Sort(ids)
			return root, ids, nil
		}
	}
	if _, err := os.Stat(path); err != nil {
		return "", nil, err
	}
	return "", nil, errors.New(path + ": no block found (want a directory holding " + block.MetaName + ", or a directory of them)")
}

func printBlock(w io.Writer, r *block.Reader) {
	m := r.Meta()
	ts := func(ns uint64) string { return time.Unix(0, int64(ns)).UTC().Format(time.RFC3339Nano) }
	fmt.Fprintf(w, "block %s\n", m.ID)
	fmt.Fprintf(w, "  format version  %d\n", m.Version)
	fmt.Fprintf(w, "  created         %s\n", time.Unix(0, m.CreatedUnixNano).UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  spans starting  %s .. %s\n", ts(m.MinStart), ts(m.MaxStart))
	fmt.Fprintf(w, "  spans / traces  %d / %d\n", m.Spans, m.Traces)
	per := 0.0
	if m.Spans > 0 {
		per = float64(m.Size()) / float64(m.Spans)
	}
	fmt.Fprintf(w, "  bytes           %d (data %d, index %d, bloom %d, search %d; %.1f per span)\n", m.Size(), m.DataSize, m.IndexSize, m.BloomSize, m.SearchSize, per)
	fmt.Fprintf(w, "  level           %d\n", m.Level)
	if len(m.Sources) > 0 {
		fmt.Fprintf(w, "  compacted from  %v\n", m.Sources)
	}
	svcs := make([]string, 0, len(m.Services))
	for s := range m.Services {
		svcs = append(svcs, s)
	}
	slices.Sort(svcs)
	fmt.Fprintf(w, "  services        %d\n", len(svcs))
	for _, s := range svcs {
		fmt.Fprintf(w, "    %s (%d operations)\n", s, len(m.Services[s]))
	}
	if keys := r.AttrColumns(); len(keys) > 0 {
		fmt.Fprintf(w, "  attribute columns\n")
		for i, k := range keys {
			if k != "" {
				fmt.Fprintf(w, "    attr_%d  %s\n", i, k)
			}
		}
	}
	groups, cols := r.Stats()
	fmt.Fprintf(w, "  row groups      %d\n", groups)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tcolumn\tcompressed\tuncompressed\tbytes/span\t\n")
	for _, c := range cols {
		bps := 0.0
		if m.Spans > 0 {
			bps = float64(c.Compressed) / float64(m.Spans)
		}
		fmt.Fprintf(tw, "\t%s\t%d\t%d\t%.2f\t\n", c.Path, c.Compressed, c.Uncompressed, bps)
	}
	tw.Flush()
}
