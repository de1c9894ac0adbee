// Package httpbody reads HTTP request bodies for the receivers: it undoes
// the Content-Encoding (gzip, deflate) and enforces one size limit on the
// decoded bytes, so a small compressed body cannot expand past the limit.
package httpbody

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ErrTooLarge is returned (wrapped) by Read when the body, raw or decoded,
// exceeds the limit. Receivers answer it with 413.
var ErrTooLarge = errors.New("request body too large")

// ErrEncoding is returned (wrapped) by Read for a Content-Encoding it does
// not know. Receivers answer it with 415.
var ErrEncoding = errors.New("unsupported content encoding")

// ErrCorrupt is returned (wrapped) by Read when the compressed body cannot
// be decompressed. Receivers answer it with 400.
var ErrCorrupt = errors.New("corrupt compressed body")

// Read returns the decoded body of r, at most limit bytes. It understands
// Content-Encoding gzip, x-gzip, deflate (zlib, as HTTP defines it) and
// identity. The returned slice belongs to the
// caller.
func Read(r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", ErrTooLarge, limit)
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, r.ContentLength, limit)
	}
	// The raw body may not exceed the limit either: compression never
	// makes sense if it grows the data.
	raw := &strictLimit{r: r.Body, left: limit}
	var src io.Reader
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		src = raw
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, corrupt("gzip", err)
		}
		defer zr.Close()
		src = zr
	case "deflate":
		zr, err := zlib.NewReader(raw)
		if err != nil {
			return nil, corrupt("deflate", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fmt.Errorf("%w: %q (want gzip, deflate or identity)", ErrEncoding, enc)
	}
	b, err := readAll(src, limit)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func readAll(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if n > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, zlib.ErrChecksum) ||
			errors.Is(err, zlib.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		var ce flate.CorruptInputError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	return buf.Bytes(), nil
}

// strictLimit fails with ErrTooLarge once more than left bytes were read,
// where io.LimitReader would end silently.
type strictLimit struct {
	r    io.Reader
	left int64
}

func (l *strictLimit) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%w: raw body over the limit", ErrTooLarge)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, fmt.Errorf("%w: raw body over the limit", ErrTooLarge)
	}
	return n, err
}

func corrupt(enc string, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, enc, err)
}
