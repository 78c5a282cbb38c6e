package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Route 53's limits on one ChangeResourceRecordSets request.
const (
	// MaxBatchElements is the most ResourceRecord elements per request.
	MaxBatchElements = 1000
	// MaxBatchChars is the most characters of values per request.
	MaxBatchChars = 32000
)

// BatchLimits bounds one ChangeResourceRecordSets request.
type BatchLimits struct {
	// Elements is the most ResourceRecord elements (default 1,000).
	Elements int
	// Chars is the most characters of values (default 32,000).
	Chars int
}

// ChangeCost is what one change counts against the limits: its values'
// count and length, twice for an UPSERT (Route 53 counts it as a DELETE
// and a CREATE). An alias counts as one element of its DNS name's length,
// which is more than Route 53 counts, never less.
func ChangeCost(c RecordChange) (elements, chars int) {
	if c.Alias != nil {
		elements, chars = 1, len(c.Alias.DNSName)
	} else {
		for _, v := range c.Values {
			elements++
			chars += len(v)
		}
	}
	if c.Action == ActionUpsert {
		elements, chars = 2*elements, 2*chars
	}
	return elements, chars
}

// BatchChanges splits changes into requests within lim, keeping their
// order. The changes of one name stay in one request, so that a DELETE and
// the CREATE that replaces it are applied atomically; a name whose changes
// alone exceed lim is an error.
func BatchChanges(changes []RecordChange, lim BatchLimits) ([][]RecordChange, error) {
	if lim.Elements <= 0 || lim.Chars <= 0 {
		return nil, fmt.Errorf("route53: batch changes: %w: limits must be positive", ErrConfig)
	}
	// Group by name in order of first appearance.
	index := make(map[string]int)
	var groups [][]RecordChange
	for _, c := range changes {
		i, ok := index[c.Name]
		if !ok {
			i = len(groups)
			index[c.Name] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	var out [][]RecordChange
	var cur []RecordChange
	curEl, curCh := 0, 0
	for _, g := range groups {
		el, ch := 0, 0
		for _, c := range g {
			e, n := ChangeCost(c)
			el, ch = el+e, ch+n
		}
		if el > lim.Elements || ch > lim.Chars {
			return nil, fmt.Errorf("route53: batch changes %s: %w: %d elements and %d characters exceed one request's %d and %d",
				g[0].Name, ErrConfig, el, ch, lim.Elements, lim.Chars)
		}
		if len(cur) > 0 && (curEl+el > lim.Elements || curCh+ch > lim.Chars) {
			out = append(out, cur)
			cur, curEl, curCh = nil, 0, 0
		}
		cur = append(cur, g...)
		curEl, curCh = curEl+el, curCh+ch
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// shortHash is 16 hex digits of s's SHA-256.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
