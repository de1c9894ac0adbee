package block

import "testing"

// TestSetCacheBytes checks that changing a read cache's bound drops the
// least recently used entries beyond the new bound, and that 0 keeps
// nothing.
func TestSetCacheBytes(t *testing.T) {
	t.Run("pages", func(t *testing.T) {
		saved := pageVals
		defer func() { pageVals = saved }()
		pageVals = newPageCache(10 * (1000 + pageEntryBytes))
		for i := 0; i < 10; i++ {
			pageVals.put(pageKey{page: i}, make([]byte, 1000))
		}
		pageVals.get(pageKey{page: 0})
		SetPageCacheBytes(4 * (1000 + pageEntryBytes))
		if PageCacheUsed() != 4*(1000+pageEntryBytes) || len(pageVals.m) != 4 {
			t.Fatalf("after shrinking: %d bytes, %d pages", PageCacheUsed(), len(pageVals.m))
		}
		if pageVals.get(pageKey{page: 0}) == nil || pageVals.get(pageKey{page: 9}) == nil || pageVals.get(pageKey{page: 1}) != nil {
			t.Error("shrinking did not keep the most recently used pages")
		}
		SetPageCacheBytes(0)
		pageVals.put(pageKey{page: 20}, make([]byte, 10))
		if PageCacheUsed() != 0 || len(pageVals.m) != 0 {
			t.Errorf("a cache of 0 bytes keeps %d bytes", PageCacheUsed())
		}
	})
	t.Run("dictionaries", func(t *testing.T) {
		saved := dicts
		defer func() { dicts = saved }()
		dicts = &dictCache{newLRU[dictKey](1000, func(d *dictionary) int64 { return d.size })}
		for i := 0; i < 10; i++ {
			dicts.put(dictKey{col: i}, &dictionary{size: 100})
		}
		dicts.get(dictKey{col: 0})
		SetDictionaryCacheBytes(300)
		if DictionaryCacheUsed() != 300 || len(dicts.m) != 3 {
			t.Fatalf("after shrinking: %d bytes, %d dictionaries", DictionaryCacheUsed(), len(dicts.m))
		}
		if dicts.get(dictKey{col: 0}) == nil || dicts.get(dictKey{col: 9}) == nil || dicts.get(dictKey{col: 1}) != nil {
			t.Error("shrinking did not keep the most recently used dictionaries")
		}
		SetDictionaryCacheBytes(0)
		dicts.put(dictKey{col: 20}, &dictionary{size: 1})
		if DictionaryCacheUsed() != 0 {
			t.Errorf("a cache of 0 bytes keeps %d bytes", DictionaryCacheUsed())
		}
	})
	t.Run("search indexes", func(t *testing.T) {
		c := NewSearchCache(1000)
		for i := 0; i < 10; i++ {
			c.put(&searchEntry{id: string(rune('a' + i)), size: 100})
		}
		c.get("a")
		c.SetMaxBytes(300)
		if c.Bytes() != 300 {
			t.Fatalf("after shrinking: %d bytes", c.Bytes())
		}
		if _, ok := c.get("a"); !ok {
			t.Error("shrinking dropped the most recently used index")
		}
		if _, ok := c.get("b"); ok {
			t.Error("shrinking kept the least recently used index")
		}
		c.SetMaxBytes(0)
		c.put(&searchEntry{id: "z", size: 1})
		if c.Bytes() != 0 {
			t.Errorf("a cache of 0 bytes keeps %d bytes", c.Bytes())
		}
	})
}
