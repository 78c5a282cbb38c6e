package replicate

import (
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
)

// A record is visible to object() from putObject on: while pending, while
// its group is being committed, and once on disk.
func TestCheckpointRecordsAlwaysVisible(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.db")
	c, err := openCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		if err := c.putObject(strconv.Itoa(i), objectRecord{ETag: "e", Size: int64(i)}); err != nil {
			t.Fatal(err)
		}
		k := rng.IntN(i + 1)
		r, ok, err := c.object(strconv.Itoa(k))
		if err != nil || !ok || r.Size != int64(k) {
			t.Fatalf("record %d after %d puts: %+v, %v, %v", k, i+1, r, ok, err)
		}
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	c, err = openCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	n := 0
	if err := c.forEachObject(func(string, objectRecord) error { n++; return nil }); err != nil || n != 3000 {
		t.Errorf("after reopen: %d records, %v; want 3000", n, err)
	}
}
