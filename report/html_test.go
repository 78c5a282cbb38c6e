package report_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/pilotlight/pilotlight/internal/needs"
	"github.com/pilotlight/pilotlight/report"
	"github.com/pilotlight/pilotlight/report/internal/sample"
)

var screenshot = flag.Bool("screenshot", false, "write ../docs/drill-report.png from the sample report with chromium")

// markedKinds are the event kinds the timeline draws as markers.
var markedKinds = []string{
	report.KindFault, report.KindDetected, report.KindDeclared, report.KindTierStarted,
	report.KindTierDone, report.KindDNSSwitched, report.KindRecovered,
}

// page is what the structural checks find in a rendered report.
type page struct {
	timelines int            // svg elements with id="timeline"
	markers   map[string]int // .marker elements inside svg#timeline, by data-kind
	phases    int            // .phase rects
	tags      map[string]int // every element, by tag
	remote    []string       // attribute or style values that reference http(s)
	text      string         // all text content
}

// hasClass reports whether the class attribute value holds class c.
func hasClass(v, c string) bool { return slices.Contains(strings.Fields(v), c) }

// inspect parses an HTML document and collects what the checks need.
func inspect(t *testing.T, r io.Reader) page {
	t.Helper()
	root, err := html.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	p := page{markers: map[string]int{}, tags: map[string]int{}}
	var text strings.Builder
	var walk func(n *html.Node, inTimeline, inStyle bool)
	walk = func(n *html.Node, inTimeline, inStyle bool) {
		switch n.Type {
		case html.TextNode:
			if inStyle && (strings.Contains(n.Data, "http:") || strings.Contains(n.Data, "https:") || strings.Contains(n.Data, "url(")) {
				p.remote = append(p.remote, "<style>")
			}
			if !inStyle {
				text.WriteString(n.Data)
			}
		case html.ElementNode:
			p.tags[n.Data]++
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
				v := strings.ToLower(a.Val)
				if strings.Contains(v, "http://") || strings.Contains(v, "https://") || strings.Contains(v, "url(") {
					p.remote = append(p.remote, n.Data+" "+a.Key+"="+a.Val)
				}
			}
			if n.Data == "svg" && attrs["id"] == "timeline" {
				p.timelines++
				inTimeline = true
			}
			if inTimeline && hasClass(attrs["class"], "marker") {
				p.markers[attrs["data-kind"]]++
			}
			if n.Data == "rect" && hasClass(attrs["class"], "phase") {
				p.phases++
			}
			inStyle = n.Data == "style"
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inTimeline, inStyle)
		}
	}
	walk(root, false, false)
	p.text = text.String()
	return p
}

// checkPage verifies the structure of a rendered report of d.
func checkPage(t *testing.T, d report.Drill, p page) {
	t.Helper()
	if p.timelines != 1 {
		t.Errorf("%d svg#timeline, want 1", p.timelines)
	}
	for _, kind := range markedKinds {
		want := 0
		for _, e := range d.Events {
			if e.Kind == kind {
				want++
			}
		}
		if p.markers[kind] != want {
			t.Errorf("%d %s markers, want one per event: %d", p.markers[kind], kind, want)
		}
	}
	for _, kind := range []string{report.KindWarmup, report.KindStable, report.KindTeardown} {
		if p.markers[kind] != 0 {
			t.Errorf("%d %s markers, want none", p.markers[kind], kind)
		}
	}
	if len(p.remote) > 0 {
		t.Errorf("outside resource references: %q", p.remote)
	}
	for _, tag := range []string{"script", "link", "img", "iframe", "object", "embed"} {
		if p.tags[tag] > 0 {
			t.Errorf("%d <%s> elements in a self-contained page", p.tags[tag], tag)
		}
	}
}

func TestWriteHTML(t *testing.T) {
	hostile := sample.RegionOutage()
	hostile.Plan = `<script>alert("plan")</script>`
	hostile.Events[1].Message = `<img src="http://evil.test/x.png"> "quoted" & more`
	hostile.Steps[0].Error = `</td><script>alert(1)</script>`
	notRecovered := failing()
	notRecovered.Events = drop(notRecovered.Events, report.KindRecovered)
	empty := report.Drill{ID: "empty", Events: []report.Event{{Time: sample.Fault, Kind: report.KindFault}}}

	tests := []struct {
		name   string
		drill  report.Drill
		phases int
		text   []string
	}{
		{"pass", sample.RegionOutage(), 6, []string{"PASS", "7.104s", "objective 30s", "w-000048", "fence-seoul", "answered by virginia"}},
		{"fail", failing(), 6, []string{"FAIL", "over by 2.104s", "over by 320ms", "rto 7.104s is over the objective 5s by 2.104s"}},
		{"hostile text", hostile, 6, []string{`<script>alert("plan")</script>`, `<img src="http://evil.test/x.png"> "quoted" & more`}},
		{"not recovered", notRecovered, 6, []string{"did not recover"}},
		{"empty", empty, 0, []string{"no traffic recorded", "no steps ran"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.WriteHTML(&buf, tt.drill); err != nil {
				t.Fatal(err)
			}
			p := inspect(t, bytes.NewReader(buf.Bytes()))
			checkPage(t, tt.drill, p)
			if p.phases != tt.phases {
				t.Errorf("%d RTO phases drawn, want %d", p.phases, tt.phases)
			}
			for _, s := range tt.text {
				if !strings.Contains(p.text, s) {
					t.Errorf("no text %q", s)
				}
			}
			if tt.name == "pass" {
				golden(t, "pass.html", buf.Bytes())
			}
		})
	}
}

// TestChromium renders the sample report to a file and checks the DOM a
// headless Chromium builds from it; with -screenshot it also writes
// docs/drill-report.png.
func TestChromium(t *testing.T) {
	chromium := needs.Program(t, "chromium", "chromium")
	dir := t.TempDir()
	d := sample.RegionOutage()
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, d); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + file

	dom := runChromium(t, chromium, dir, "--dump-dom", url)
	p := inspect(t, bytes.NewReader(dom))
	checkPage(t, d, p)
	if total := sum(p.markers); total < 10 {
		t.Errorf("%d markers in the DOM, want the sample's 17", total)
	}

	if *screenshot {
		png, err := filepath.Abs(filepath.Join("..", "docs", "drill-report.png"))
		if err != nil {
			t.Fatal(err)
		}
		runChromium(t, chromium, dir, "--screenshot="+png, "--window-size=1200,1600", "--hide-scrollbars", url)
		if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
			t.Fatalf("screenshot %s: %v", png, err)
		}
		t.Logf("wrote %s", png)
	}
}

// runChromium runs a headless Chromium with no network and a profile in dir,
// bounded to a minute, and returns its standard output.
func runChromium(t *testing.T, chromium, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	args = append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
	}, args...)
	cmd := exec.CommandContext(ctx, chromium, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
