package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clew.yaml")
	os.WriteFile(path, []byte("storage: memory\nquery:\n  addr: 127.0.0.1:1111\n  timeout: 5s\nmemory:\n  max_bytes: 64MiB\nreceivers:\n  otlp:\n    grpc:\n      addr: 127.0.0.1:2222\n"), 0o644)
	cfg, rest, err := Load("clew", []string{"--config", path, "--query.addr=127.0.0.1:3333", "extra"},
		env(map[string]string{"CLEW_QUERY_ADDR": "127.0.0.1:4444", "CLEW_RECEIVERS_OTLP_GRPC_ADDR": "127.0.0.1:5555", "CLEW_LOG_LEVEL": "debug"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Query.Addr != "127.0.0.1:3333" {
		t.Errorf("flag must win over env and file: %s", cfg.Query.Addr)
	}
	if cfg.Receivers.OTLP.GRPC.Addr != "127.0.0.1:5555" {
		t.Errorf("env must win over file: %s", cfg.Receivers.OTLP.GRPC.Addr)
	}
	if cfg.Query.Timeout != 5*time.Second || cfg.Memory.MaxBytes != 64<<20 {
		t.Errorf("file values: %v %v", cfg.Query.Timeout, cfg.Memory.MaxBytes)
	}
	if cfg.Log.Level != "debug" || cfg.Receivers.OTLP.HTTP.Addr != Default().Receivers.OTLP.HTTP.Addr {
		t.Errorf("env/default values: %q %q", cfg.Log.Level, cfg.Receivers.OTLP.HTTP.Addr)
	}
	if len(rest) != 1 || rest[0] != "extra" {
		t.Errorf("rest %v", rest)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("qeury:\n  addr: x\n"), 0o644)
	for name, args := range map[string][]string{
		"unknown flag":      {"--nope=1"},
		"bad duration":      {"--query.timeout=soon"},
		"bad size":          {"--limits.max-request-bytes=lots"},
		"bad enum":          {"--storage=floppy"},
		"unknown yaml key":  {"--config", typo},
		"missing yaml file": {"--config", filepath.Join(dir, "none.yaml")},
	} {
		if _, _, err := Load("clew", args, env(nil), &bytes.Buffer{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, _, err := Load("clew", nil, env(map[string]string{"CLEW_MEMORY_MAX_SPANS": "many"}), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "CLEW_MEMORY_MAX_SPANS") {
		t.Errorf("bad env var: %v", err)
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if _, _, err := Load("clew", []string{"--help"}, env(nil), &out); err != ErrHelp {
		t.Fatalf("err %v", err)
	}
	d := Default()
	for _, s := range Settings(&d) {
		if !strings.Contains(out.String(), "--"+s.Flag+" ") || !strings.Contains(out.String(), s.Env) {
			t.Errorf("--help lacks %s", s.Flag)
		}
		if s.Help == "" {
			t.Errorf("setting %s has no help text", s.Path)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]Bytes{"1024": 1024, "16MiB": 16 << 20, "2 GiB": 2 << 30, "500MB": 500e6, "1KB": 1000, "7B": 7} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1XB", "99999999999GiB"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q): no error", in)
		}
	}
	if s := Bytes(16 << 20).String(); s != "16MiB" {
		t.Errorf("String %s", s)
	}
}
