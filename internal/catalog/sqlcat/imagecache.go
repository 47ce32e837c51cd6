package sqlcat

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"glimpse/internal/image"
)

// imageCache keeps recently read images so that a repeated GET of one image
// (a compute host booting from it, a client polling its status) costs one
// cheap check instead of a query that decodes two dozen columns and three
// JSON aggregates.
//
// Correctness rests on SQLite's PRAGMA data_version, read on a connection of
// the cache's own that never writes: its value changes whenever any other
// connection commits, this process's writer and other processes sharing the
// file alike. An entry is used only while the value it was read under is
// still current, so a GET never sees less than a GET without the cache
// would: every committed change, from anywhere, empties the cache first.
//
// Servers have no such counter that other glimpse processes' commits move
// for free, so catalogs on PostgreSQL and MySQL have no cache: a nil
// *imageCache keeps nothing.
type imageCache struct {
	ver *sql.DB   // one connection, only for PRAGMA data_version
	q   *sql.Stmt // the prepared pragma

	mu      sync.Mutex
	version int64 // the data version the entries were read under
	entries map[string]cached
}

type cached struct {
	img *image.Image
	// withLocations: the image was read with its locations (single
	// reads); list reads leave them out.
	withLocations bool
}

// imageCacheEntries bounds the cache: about 1–2 KiB per image, so a few
// tens of MiB at most, and enough for the working set of a large cloud.
const imageCacheEntries = 16384

func newImageCache(ctx context.Context, dsn string) (*imageCache, error) {
	v, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	v.SetMaxOpenConns(1)
	v.SetMaxIdleConns(1)
	v.SetConnMaxIdleTime(0)
	q, err := v.PrepareContext(ctx, "PRAGMA data_version")
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("prepare data_version: %w", err)
	}
	return &imageCache{ver: v, q: q, entries: map[string]cached{}}, nil
}

// dataVersion reads the current data version; it changes after any commit
// by another connection.
func (c *imageCache) dataVersion(ctx context.Context) (int64, error) {
	if c == nil {
		return 0, nil
	}
	var v int64
	err := c.q.QueryRowContext(ctx).Scan(&v)
	return v, err
}

// get returns a copy of the cached image when it is still current (and
// carries its locations, if the caller needs them). now is the data version
// the caller just read.
func (c *imageCache) get(id string, now int64, needLocations bool) *image.Image {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != now {
		clear(c.entries)
		c.version = now
		return nil
	}
	if e, ok := c.entries[id]; ok && (e.withLocations || !needLocations) {
		return e.img.Clone()
	}
	return nil
}

// put keeps img, read after the data version was at, unless the data has
// changed since (then it may already be stale and is not kept).
func (c *imageCache) put(img *image.Image, at int64, withLocations bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != at {
		return
	}
	if len(c.entries) >= imageCacheEntries {
		// Drop an arbitrary entry: map order is random, which is as
		// good as LRU for random access and costs no bookkeeping.
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	if e, ok := c.entries[img.ID]; ok && e.withLocations && !withLocations {
		return // keep the fuller entry
	}
	c.entries[img.ID] = cached{img: img.Clone(), withLocations: withLocations}
}

func (c *imageCache) close() error {
	if c == nil {
		return nil
	}
	c.q.Close()
	return c.ver.Close()
}
