package plan

import (
	"slices"
	"strings"
	"testing"
)

func plannedServices(specs ...string) *Plan {
	// Each spec is "name:tier:dep,dep".
	p := &Plan{}
	for _, spec := range specs {
		parts := strings.Split(spec, ":")
		s := Service{Name: parts[0], Tier: int(parts[1][0] - '0')}
		if parts[2] != "" {
			s.DependsOn = strings.Split(parts[2], ",")
		}
		p.Services = append(p.Services, s)
	}
	return p
}

func names(ss []*Service) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

func TestTopoOrder(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
		want  []string
		err   string
	}{
		{"empty", nil, []string{}, ""},
		{"plan order", []string{"a:1:", "b:1:", "c:1:"}, []string{"a", "b", "c"}, ""},
		{"deps first", []string{"web:1:api", "api:1:db", "db:1:"}, []string{"db", "api", "web"}, ""},
		{"tier first when ready", []string{"batch:3:", "web:1:", "api:2:"}, []string{"web", "api", "batch"}, ""},
		{"dependency beats tier", []string{"web:1:cache", "cache:3:"}, []string{"cache", "web"}, ""},
		{"diamond", []string{"d:1:b,c", "b:1:a", "c:1:a", "a:1:"}, []string{"a", "b", "c", "d"}, ""},
		{"duplicate dep", []string{"a:1:b,b", "b:1:"}, []string{"b", "a"}, ""},
		{"cycle", []string{"a:1:b", "b:1:c", "c:1:a"}, nil, "plan: order services: dependency cycle: a -> b -> c -> a"},
		{"self", []string{"a:1:a"}, nil, "plan: order services: dependency cycle: a -> a"},
		{"unknown", []string{"a:1:zz"}, nil, `plan: order services: a depends on unknown service "zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order, err := plannedServices(tt.specs...).TopoOrder()
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("TopoOrder error = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(order); !slices.Equal(got, tt.want) {
				t.Errorf("TopoOrder = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCyclesReportedOnce(t *testing.T) {
	p := plannedServices("a:1:b", "b:1:a", "c:1:b,d", "d:1:c")
	var got []string
	for _, c := range p.cycles() {
		got = append(got, p.cyclePath(c))
	}
	want := []string{"a -> b -> a", "c -> d -> c"}
	if !slices.Equal(got, want) {
		t.Errorf("cycles = %v, want %v", got, want)
	}
}

func TestTiersAndService(t *testing.T) {
	p := plannedServices("x:2:", "a:1:", "y:2:", "z:3:", "b:1:")
	var got []string
	for _, tier := range p.Tiers() {
		got = append(got, strings.Join(names(tier), ","))
	}
	if want := []string{"a,b", "x,y", "z"}; !slices.Equal(got, want) {
		t.Errorf("Tiers = %v, want %v", got, want)
	}
	if s := p.Service("y"); s == nil || s != &p.Services[2] {
		t.Errorf("Service(y) = %v", s)
	}
	if s := p.Service("nope"); s != nil {
		t.Errorf("Service(nope) = %v", s)
	}
}
