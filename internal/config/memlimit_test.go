package config

import "testing"

func TestMemoryLimit(t *testing.T) {
	c := Default()
	if got, want := c.MemoryLimit(), 2*int64(c.Local.MaxHeadBytes)+32<<20; c.Storage != "local" || got != want {
		t.Errorf("default (local): %d, want %d", got, want)
	}
	c.Storage = "memory"
	if got, want := c.MemoryLimit(), int64(c.Memory.MaxBytes)*3/2+64<<20; got != want {
		t.Errorf("memory storage: %d, want %d", got, want)
	}
	c.Limits.Memory = 1 << 30
	if got := c.MemoryLimit(); got != 1<<30 {
		t.Errorf("explicit: %d, want %d", got, 1<<30)
	}
}
