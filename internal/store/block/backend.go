package block

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Backend stores blocks: a block is a flat set of named objects under its
// id. It is deliberately narrow so that object storage can implement it.
// Methods are safe for concurrent use. Write is atomic: a reader sees the
// whole object or none of it. Missing objects give errors wrapping
// os.ErrNotExist.
type Backend interface {
	// List returns the ids of the blocks that hold an object named name
	// (the engine lists by MetaName: a block is visible once its meta is).
	List(ctx context.Context, name string) ([]string, error)
	// Read returns a whole object.
	Read(ctx context.Context, block, name string) ([]byte, error)
	// ReadRange reads len(p) bytes of an object at off.
	ReadRange(ctx context.Context, block, name string, off int64, p []byte) error
	// Size returns an object's size.
	Size(ctx context.Context, block, name string) (int64, error)
	// Write stores an object from r, replacing any object of that name.
	Write(ctx context.Context, block, name string, r io.Reader) error
	// Delete removes an object; deleting a missing object is not an error.
	Delete(ctx context.Context, block, name string) error
	// DeleteBlock removes whatever is left of a block.
	DeleteBlock(ctx context.Context, block string) error
}

// ReaderAtOpener is an optional upgrade of Backend for backends that can
// hand out an io.ReaderAt over an object (a local file).
type ReaderAtOpener interface {
	OpenReaderAt(block, name string) (ReaderAtCloser, int64, error)
}

// ReaderAtCloser is an io.ReaderAt that must be closed.
type ReaderAtCloser interface {
	io.ReaderAt
	io.Closer
}

// Dir is a Backend over a local directory: block b's object n is the file
// dir/b/n. Writes go to a temporary file that is fsynced and renamed.
type Dir struct {
	root string
}

var (
	_ Backend        = (*Dir)(nil)
	_ ReaderAtOpener = (*Dir)(nil)
)

// NewDir returns a Backend rooted at root, creating it when missing, and
// removes temporary files left by a crash.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create block dir: %w", err)
	}
	d := &Dir{root: root}
	if ents, err := os.ReadDir(root); err == nil {
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			tmps, _ := filepath.Glob(filepath.Join(root, e.Name(), "*.tmp"))
			for _, t := range tmps {
				os.Remove(t)
			}
		}
	}
	return d, nil
}

// Root returns the directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(block, name string) (string, error) {
	if block == "" || strings.ContainsAny(block, `/\`) || block == "." || block == ".." ||
		name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("bad object name %q/%q", block, name)
	}
	return filepath.Join(d.root, block, name), nil
}

// List implements Backend.
func (d *Dir) List(ctx context.Context, name string) ([]string, error) {
	ents, err := os.ReadDir(d.root)
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(d.root, e.Name(), name)); err == nil {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// Read implements Backend.
func (d *Dir) Read(ctx context.Context, block, name string) ([]byte, error) {
	p, err := d.path(block, name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// ReadRange implements Backend.
func (d *Dir) ReadRange(ctx context.Context, block, name string, off int64, b []byte) error {
	p, err := d.path(block, name)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.ReadAt(b, off)
	return err
}

// Size implements Backend.
func (d *Dir) Size(ctx context.Context, block, name string) (int64, error) {
	p, err := d.path(block, name)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// OpenReaderAt implements ReaderAtOpener.
func (d *Dir) OpenReaderAt(block, name string) (ReaderAtCloser, int64, error) {
	p, err := d.path(block, name)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// Write implements Backend.
func (d *Dir) Write(ctx context.Context, block, name string, r io.Reader) error {
	p, err := d.path(block, name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s/%s: %w", block, name, err)
	}
	return nil
}

// Delete implements Backend.
func (d *Dir) Delete(ctx context.Context, block, name string) error {
	p, err := d.path(block, name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// DeleteBlock implements Backend.
func (d *Dir) DeleteBlock(ctx context.Context, block string) error {
	p, err := d.path(block, "x")
	if err != nil {
		return err
	}
	return os.RemoveAll(filepath.Dir(p))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}
