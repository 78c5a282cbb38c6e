package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/provider/aws"
)

// TestInventoryShowLocal saves two exports in STATE/inventory and reads
// them back with `inventory show --local`: the newest by default, an older
// one by --version; a local primary cannot be exported.
func TestInventoryShowLocal(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	g := &globals{output: "json", stdout: &out, stderr: &errb, stateDir: dir,
		file: filepath.Join("..", "..", "examples", "ticketing", "pilotlight.yaml")}
	st := &aws.InventoryStore{Plan: "ticketing", Dir: inventoryDir(g)}
	first := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for i, n := range []int{3, 5} {
		d := &aws.InventoryDoc{Version: aws.InventoryVersion, Plan: "ticketing", Region: "seoul",
			Taken: first.Add(time.Duration(i) * time.Hour), Counts: aws.InventoryCounts{Instances: n, VPCs: 1}}
		if err := st.Save(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	show := func(args ...string) inventorySummary {
		t.Helper()
		out.Reset()
		if err := runInProcess(t, g, newInventoryCommand(g), append([]string{"show", "--local"}, args...)...); err != nil {
			t.Fatalf("inventory show %v: %v", args, err)
		}
		var s inventorySummary
		if err := json.Unmarshal(out.Bytes(), &s); err != nil {
			t.Fatalf("%v in %s", err, out.String())
		}
		return s
	}
	if s := show(); s.Counts.Instances != 5 || !s.Taken.Equal(first.Add(time.Hour)) || !strings.HasSuffix(s.Key, "2026-12-06T11:00:00Z.json") {
		t.Errorf("newest: %+v", s)
	}
	if s := show("--version", "2026-12-06T10:00:00Z"); s.Counts.Instances != 3 {
		t.Errorf("--version: %+v", s)
	}
	g.output = "text"
	out.Reset()
	if err := runInProcess(t, g, newInventoryCommand(g), "show", "--local"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"inventory of plan ticketing, region seoul", "instances        5", "vpcs             1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	devNull, _ := os.Open(os.DevNull)
	defer devNull.Close()
	err := runInProcess(t, g, newInventoryCommand(g), "export")
	if err == nil || exitCode(err, devNull) != 2 || !strings.Contains(err.Error(), "provider aws") {
		t.Errorf("export of a local plan: %v", err)
	}
	if err := os.RemoveAll(inventoryDir(g)); err != nil {
		t.Fatal(err)
	}
	if err := runInProcess(t, g, newInventoryCommand(g), "show", "--local"); err == nil || !strings.Contains(err.Error(), "no inventory export") {
		t.Errorf("show without exports: %v", err)
	}
}
