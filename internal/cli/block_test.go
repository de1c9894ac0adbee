package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/block"
)

func TestBlockInspectAndVerify(t *testing.T) {
	dir := t.TempDir()
	be, err := block.NewDir(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	r := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("checkout")}}}
	var spans []*model.Span
	for i := uint64(1); i <= 20; i++ {
		st := uint64(time.Now().UnixNano())
		spans = append(spans, &model.Span{Resource: r, Scope: &model.Scope{}, TraceID: model.TraceIDFromUint64s(0, i/4+1),
			SpanID: model.SpanIDFromUint64(i), Name: "GET /", StartTimeUnixNano: st, EndTimeUnixNano: st + 10,
			Attributes: model.Attributes{{Key: "user.id", Value: model.StringValue("u" + string(rune('a'+i)))}}})
	}
	m, err := block.Write(context.Background(), be, filepath.Join(dir, "tmp"), block.Meta{}, block.WriterOptions{}, spans, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := runBlock(args, Env{Stdout: &out, Stderr: &errOut})
		return code, out.String() + errOut.String()
	}
	for _, path := range []string{dir, filepath.Join(dir, "blocks"), filepath.Join(dir, "blocks", m.ID)} {
		code, out := run("inspect", path)
		if code != 0 || !strings.Contains(out, "spans / traces  20 / 6") || !strings.Contains(out, "checkout (1 operations)") || !strings.Contains(out, "trace_id") || !strings.Contains(out, "attr_0  user.id") {
			t.Errorf("inspect %s: exit %d\n%s", path, code, out)
		}
		if code, out := run("verify", path); code != 0 || !strings.Contains(out, ": ok") {
			t.Errorf("verify %s: exit %d\n%s", path, code, out)
		}
	}
	p := filepath.Join(dir, "blocks", m.ID, block.DataName)
	data, _ := os.ReadFile(p)
	data[len(data)/2] ^= 0xff
	os.WriteFile(p, data, 0o644)
	if code, out := run("verify", dir); code != 1 || !strings.Contains(out, "DAMAGED") {
		t.Errorf("verify of a damaged block: exit %d\n%s", code, out)
	}
	if code, _ := run("inspect"); code != 2 {
		t.Errorf("no path: exit %d, want 2", code)
	}
	if code, _ := run("verify", t.TempDir()); code != 1 {
		t.Errorf("empty dir: exit %d, want 1", code)
	}
}
