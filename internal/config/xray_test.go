package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestXRaySamplingRulesFromYAML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clew.yaml")
	yaml := `
receivers:
  xray:
    sampling_rules:
      - name: checkout-post
        priority: 10
        reservoir_size: 5
        fixed_rate: 0.5
        service_name: checkout
        http_method: POST
        url_path: /cart/*
      - name: Default
        reservoir_size: 2
        fixed_rate: 0.1
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load("clew", []string{"--config", path}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []XRaySamplingRule{
		{Name: "checkout-post", Priority: 10, ReservoirSize: 5, FixedRate: 0.5, ServiceName: "checkout", HTTPMethod: "POST", URLPath: "/cart/*"},
		{Name: "Default", ReservoirSize: 2, FixedRate: 0.1},
	}
	if diff := cmp.Diff(want, cfg.Receivers.XRay.SamplingRules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	// Lists of structs are YAML-only: no flag or variable for them.
	for _, s := range Settings(&cfg) {
		if strings.Contains(s.Path, "sampling_rules") {
			t.Errorf("setting %s should not exist", s.Path)
		}
	}
}

func TestXRaySamplingRulesValidate(t *testing.T) {
	cfg := Default()
	cfg.Receivers.XRay.SamplingRules = []XRaySamplingRule{
		{Name: "a", Priority: 1, FixedRate: 1.5},
		{Name: "a", Priority: 0, ReservoirSize: -1},
		{Name: "", Priority: 5},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid rules accepted")
	}
	for _, want := range []string{"fixed_rate 1.5", "duplicate name \"a\"", "reservoir_size must not be negative", "priority 0", "name must be 1 to 32"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
