package readiness

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes rep as a table — STATUS, CHECK, SUBJECT, REASON, the
// failures first — followed by a one-line verdict such as "not ready: 2
// failed, 1 warning, 9 passed, 1 skipped".
func WriteText(w io.Writer, rep Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tSUBJECT\tREASON")
	for _, st := range []Status{Fail, Warn, Pass, Skip} {
		for _, r := range rep.Results {
			if r.Status == st {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(string(r.Status)), r.Check, r.Subject, oneLine(r.Reason))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "ready"
	if !rep.Ready {
		verdict = "not ready"
	}
	_, err := fmt.Fprintf(w, "\n%s: %d failed, %s, %d passed, %d skipped\n", verdict, rep.Counts[Fail],
		plural(rep.Counts[Warn], "warning"), rep.Counts[Pass], rep.Counts[Skip])
	return err
}

// oneLine keeps a reason on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
