package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Service returns the service called name, or nil.
func (p *Plan) Service(name string) *Service {
	for i := range p.Services {
		if p.Services[i].Name == name {
			return &p.Services[i]
		}
	}
	return nil
}

// Tiers groups the services by tier, lowest tier first, keeping plan order
// within a tier. Empty tiers are left out.
func (p *Plan) Tiers() [][]*Service {
	byTier := make(map[int][]*Service)
	for i := range p.Services {
		s := &p.Services[i]
		byTier[s.Tier] = append(byTier[s.Tier], s)
	}
	tiers := make([]int, 0, len(byTier))
	for t := range byTier {
		tiers = append(tiers, t)
	}
	slices.Sort(tiers)
	out := make([][]*Service, len(tiers))
	for i, t := range tiers {
		out[i] = byTier[t]
	}
	return out
}

// TopoOrder returns the services in dependency order: every service comes
// after the services it depends on. Among the services that are ready, the
// lowest tier comes first, then plan order. It fails on an unknown
// dependency or a cycle.
func (p *Plan) TopoOrder() ([]*Service, error) {
	edges, err := p.edges()
	if err != nil {
		return nil, err
	}
	if cs := p.cycles(); len(cs) > 0 {
		return nil, fmt.Errorf("plan: order services: dependency cycle: %s", p.cyclePath(cs[0]))
	}
	n := len(p.Services)
	waiting := make([]int, n) // unmet dependencies per service
	users := make([][]int, n) // services that depend on each service
	for i, deps := range edges {
		waiting[i] = len(deps)
		for _, d := range deps {
			users[d] = append(users[d], i)
		}
	}
	var ready []int
	for i := range n {
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	order := make([]*Service, 0, n)
	for len(ready) > 0 {
		best := 0
		for k, i := range ready {
			if c := cmp.Compare(p.Services[i].Tier, p.Services[ready[best]].Tier); c < 0 || (c == 0 && i < ready[best]) {
				best = k
			}
		}
		i := ready[best]
		ready = slices.Delete(ready, best, best+1)
		order = append(order, &p.Services[i])
		for _, u := range users[i] {
			if waiting[u]--; waiting[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	return order, nil
}

// edges returns, for each service, the indexes of the distinct services it
// depends on.
func (p *Plan) edges() ([][]int, error) {
	index := make(map[string]int, len(p.Services))
	for i, s := range p.Services {
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	edges := make([][]int, len(p.Services))
	var unknown []string
	for i, s := range p.Services {
		for _, dep := range s.DependsOn {
			j, ok := index[dep]
			if !ok {
				unknown = append(unknown, fmt.Sprintf("%s depends on unknown service %q", s.Name, dep))
				continue
			}
			if !slices.Contains(edges[i], j) {
				edges[i] = append(edges[i], j)
			}
		}
	}
	if len(unknown) > 0 {
		return edges, fmt.Errorf("plan: order services: %s", strings.Join(unknown, "; "))
	}
	return edges, nil
}

// cycles returns each distinct dependency cycle as service indexes,
// starting at its first service in plan order. Unknown dependencies are
// ignored.
func (p *Plan) cycles() [][]int {
	edges, _ := p.edges()
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(edges))
	var stack []int
	seen := make(map[string]bool)
	var out [][]int
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, j := range edges[i] {
			switch color[j] {
			case white:
				visit(j)
			case grey:
				at := slices.Index(stack, j)
				c := slices.Clone(stack[at:])
				low := slices.Index(c, slices.Min(c))
				c = append(c[low:], c[:low]...)
				if key := fmt.Sprint(c); !seen[key] {
					seen[key] = true
					out = append(out, c)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range edges {
		if color[i] == white {
			visit(i)
		}
	}
	return out
}

// cyclePath formats a cycle as "a -> b -> a".
func (p *Plan) cyclePath(c []int) string {
	names := make([]string, 0, len(c)+1)
	for _, i := range c {
		names = append(names, p.Services[i].Name)
	}
	names = append(names, p.Services[c[0]].Name)
	return strings.Join(names, " -> ")
}
