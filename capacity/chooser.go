package capacity

import (
	"errors"
	"fmt"
	"sync"
)

// Choice is an instance type and how many instances of it to run.
type Choice struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// Chooser walks a list of preferred instance types, in order, as capacity
// errors rule them out. Every choice gives at least the capacity of count
// instances of the first preference. It is safe for concurrent use.
type Chooser struct {
	mu    sync.Mutex
	types []Type
	count int
	i     int
}

// NewChooser returns a Chooser over prefs (most preferred first) for count
// instances of prefs[0]. Unknown types are an error naming them.
func NewChooser(prefs []string, count int) (*Chooser, error) {
	if len(prefs) == 0 {
		return nil, errors.New("capacity: new chooser: no instance types")
	}
	if count < 1 {
		return nil, fmt.Errorf("capacity: new chooser: count %d: must be >= 1", count)
	}
	c := &Chooser{count: count}
	for _, name := range prefs {
		t, ok := Lookup(name)
		if !ok {
			return nil, fmt.Errorf("capacity: new chooser: unknown instance type %q", name)
		}
		c.types = append(c.types, t)
	}
	return c, nil
}

// Current returns the choice in use: its type and the count recomputed from
// the first preference.
func (c *Chooser) Current() Choice {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.choice(c.i)
}

func (c *Chooser) choice(i int) Choice {
	t := c.types[i]
	return Choice{Type: t.Name, Count: Recompute(c.count, c.types[0], t)}
}

// Next moves to the next preference and reports whether there was one; at
// the end of the list it stays on the last.
func (c *Chooser) Next() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.i+1 >= len(c.types) {
		return false
	}
	c.i++
	return true
}

// Fallback returns a function for runbook.Step.Fallback: each call moves to
// the next preference, false when none is left.
func (c *Chooser) Fallback() func(attempt int) bool {
	return func(int) bool { return c.Next() }
}

// Tried returns the choices given up so far by Next, in order.
func (c *Chooser) Tried() []Choice {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Choice, 0, c.i)
	for i := range c.i {
		out = append(out, c.choice(i))
	}
	return out
}
