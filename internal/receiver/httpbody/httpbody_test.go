package httpbody

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zl(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestRead(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 200)
	f := func(name, enc string, body []byte, limit int64, want string, wantErr error) {
		t.Helper()
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		if enc != "" {
			r.Header.Set("Content-Encoding", enc)
		}
		got, err := Read(r, limit)
		if wantErr != nil {
			if !errors.Is(err, wantErr) {
				t.Errorf("%s: err = %v, want %v", name, err, wantErr)
			}
			return
		}
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	f("plain", "", []byte("hello"), 100, "hello", nil)
	f("identity", "identity", []byte("hello"), 5, "hello", nil)
	f("gzip", "gzip", gz([]byte("hello")), 100, "hello", nil)
	f("x-gzip", "x-gzip", gz([]byte("hello")), 100, "hello", nil)
	f("deflate", "deflate", zl([]byte("hello")), 100, "hello", nil)
	f("plain too large", "", big, 100, "", ErrTooLarge)
	f("gzip expands past the limit", "gzip", gz(big), 100, "", ErrTooLarge)
	f("deflate expands past the limit", "deflate", zl(big), 100, "", ErrTooLarge)
	f("unknown encoding", "br", []byte("x"), 100, "", ErrEncoding)
	f("corrupt gzip", "gzip", []byte("not gzip at all"), 100, "", ErrCorrupt)
	f("truncated gzip", "gzip", gz(big)[:10], 1000, "", ErrCorrupt)
	f("corrupt deflate", "deflate", []byte("not zlib"), 100, "", ErrCorrupt)
	f("zero limit", "", []byte("x"), 0, "", ErrTooLarge)

	// A compressed body larger than the limit is refused as too large
	// even when it would decompress to little.
	noise := []byte(strings.Repeat("0123456789abcdef", 64))
	f("raw over the limit", "gzip", append(gz(nil), noise...), 50, "", ErrTooLarge)
}
