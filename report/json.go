package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes d as indented JSON; docs/report.md documents the fields.
func WriteJSON(w io.Writer, d Drill) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("report: write json %s: %w", d.ID, err)
	}
	return nil
}
