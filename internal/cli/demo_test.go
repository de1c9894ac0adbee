package cli

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitArgs(t *testing.T) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Float64("rate", 5, "")
	fs.Bool("no-server", false, "")
	fs.String("endpoint", "", "")
	f := func(args, wantMine, wantRest string) {
		t.Helper()
		mine, rest := splitArgs(fs, strings.Fields(args))
		if diff := cmp.Diff(strings.Fields(wantMine), mine, cmpEmpty); diff != "" {
			t.Errorf("%q: demo args (-want +got):\n%s", args, diff)
		}
		if diff := cmp.Diff(strings.Fields(wantRest), rest, cmpEmpty); diff != "" {
			t.Errorf("%q: server args (-want +got):\n%s", args, diff)
		}
	}
	f("", "", "")
	f("--rate 20", "--rate 20", "")
	f("--rate=20 --storage=local", "--rate=20", "--storage=local")
	f("-rate 3 --query.addr 127.0.0.1:0", "-rate 3", "--query.addr 127.0.0.1:0")
	f("--no-server --endpoint h:4317", "--no-server --endpoint h:4317", "")
	f("--no-server=false --log.level debug", "--no-server=false", "--log.level debug")
	f("--storage memory --rate 1 stray", "--rate 1", "--storage memory stray")
	f("--help", "", "--help")
	f("-- --rate 1", "", "-- --rate 1")
	f("--rate", "--rate", "") // the missing value is the flag parser's to report
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") })

func TestDemoFlags(t *testing.T) {
	var out, errOut strings.Builder
	env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	if code := runDemo([]string{"--help"}, env); code != 0 || !strings.Contains(out.String(), "--port-base") && !strings.Contains(out.String(), "-port-base") {
		t.Errorf("--help: exit %d\n%s", code, out.String())
	}
	for _, args := range [][]string{
		{"--rate=abc"},
		{"--storage=nope"},
		{"--rate=-1", "--no-server", "--duration=1ms"},
	} {
		errOut.Reset()
		if code := runDemo(args, Env{Stdout: io.Discard, Stderr: &errOut, Getenv: env.Getenv}); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}
