package plan

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics and returns either a plan or a
// non-empty Errors with positions.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	files = append(append(files, bad...), "../examples/ticketing/pilotlight.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		p, err := Parse("fuzz.yaml", data)
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("Parse took %v on %q", el, data)
		}
		if err == nil {
			if p == nil {
				t.Fatal("nil plan without an error")
			}
			if verr := p.Validate(); verr != nil {
				t.Fatalf("parsed plan does not validate: %v", verr)
			}
			Describe(p)
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T is not a non-empty Errors: %v", err, err)
		}
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("error without position or message: %#v", e)
			}
		}
	})
}
