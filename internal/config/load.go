package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Setting is one leaf of the configuration tree.
type Setting struct {
	Path    string // YAML path, dotted: receivers.otlp.grpc.addr
	Flag    string // flag name: receivers.otlp.grpc.addr, data-dir
	Env     string // environment variable: CLEW_RECEIVERS_OTLP_GRPC_ADDR
	Help    string
	Default string
	field   reflect.Value
}

// Settings lists every leaf of c in declaration order, bound to c's fields.
func Settings(c *Config) []Setting {
	var out []Setting
	walk(reflect.ValueOf(c).Elem(), "", &out)
	return out
}

func walk(v reflect.Value, prefix string, out *[]Setting) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("yaml")
		if key == "" || key == "-" {
			continue
		}
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			continue // lists of structs are YAML-only; they have no flag or variable
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			walk(fv, path, out)
			continue
		}
		*out = append(*out, Setting{
			Path:    path,
			Flag:    strings.ReplaceAll(path, "_", "-"),
			Env:     "CLEW_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(path)),
			Help:    f.Tag.Get("help"),
			Default: format(fv),
			field:   fv,
		})
	}
}

// Value returns the setting's current value as text.
func (s Setting) Value() string { return format(s.field) }

func format(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case Bytes:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	}
	return fmt.Sprint(v.Interface())
}

func set(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	case Bytes:
		b, err := ParseBytes(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(b))
		return nil
	case []string:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("BUG: unsupported setting type %s", v.Type())
	}
	return nil
}

type flagValue struct{ s *Setting }

func (f flagValue) String() string {
	if f.s == nil || !f.s.field.IsValid() {
		return ""
	}
	return f.s.Value()
}
func (f flagValue) Set(v string) error { return set(f.s.field, v) }
func (f flagValue) IsBoolFlag() bool   { return f.s.field.Kind() == reflect.Bool }

// ErrHelp is returned by Load when -h or --help was given; the usage has
// been written to the output.
var ErrHelp = flag.ErrHelp

// Load builds the configuration of a command from defaults, the YAML file
// named by --config (or CLEW_CONFIG), CLEW_* variables from getenv, and
// flags in args, in increasing precedence. It returns the remaining
// positional arguments. Usage goes to out.
func Load(name string, args []string, getenv func(string) string, out io.Writer) (Config, []string, error) {
	cfg := Default()
	settings := Settings(&cfg)

	// The config file is read first, so find --config before parsing.
	path := getenv("CLEW_CONFIG")
	for i, a := range args {
		switch {
		case a == "--config" || a == "-config":
			if i+1 < len(args) {
				path = args[i+1]
			}
		case strings.HasPrefix(a, "--config="), strings.HasPrefix(a, "-config="):
			path = a[strings.Index(a, "=")+1:]
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, nil, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	for i := range settings {
		s := &settings[i]
		if v := getenv(s.Env); v != "" {
			if err := set(s.field, v); err != nil {
				return cfg, nil, fmt.Errorf("%s=%q: %w", s.Env, v, err)
			}
		}
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("config", path, "YAML configuration file.")
	for i := range settings {
		fs.Var(flagValue{&settings[i]}, settings[i].Flag, settings[i].Help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			Usage(out, name, Default())
			return cfg, nil, ErrHelp
		}
		return cfg, nil, fmt.Errorf("%w (see %s --help)", err, name)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, fs.Args(), nil
}

// Usage writes every setting with its flag, variable, default and help.
func Usage(w io.Writer, name string, defaults Config) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\nEvery setting is a flag, a CLEW_* environment variable and a key of the YAML file given with --config, in decreasing precedence.\n\n", name)
	fmt.Fprintf(w, "  --config FILE\n        YAML configuration file (CLEW_CONFIG).\n")
	for _, s := range Settings(&defaults) {
		def := s.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s  (%s, default %s)\n        %s\n", s.Flag, s.Env, def, s.Help)
	}
}

// Markdown renders the reference table of every setting.
func Markdown(defaults Config) string {
	var b strings.Builder
	b.WriteString("| YAML key | flag | environment variable | default | meaning |\n|---|---|---|---|---|\n")
	for _, s := range Settings(&defaults) {
		fmt.Fprintf(&b, "| `%s` | `--%s` | `%s` | `%s` | %s |\n", s.Path, s.Flag, s.Env, s.Default, s.Help)
	}
	return b.String()
}

// Bytes is a size in bytes. It parses plain numbers and the suffixes
// KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024).
type Bytes int64

// String formats b with the largest binary suffix that divides it.
func (b Bytes) String() string {
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// ParseBytes parses a size such as "16MiB", "500MB" or "1024".
func ParseBytes(s string) (Bytes, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (mult > 1 && n > (1<<62)/mult) {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional KB, MB, GB, KiB, MiB or GiB suffix", s)
	}
	return Bytes(n * mult), nil
}

// UnmarshalYAML accepts numbers and strings with suffixes.
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseBytes(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}
