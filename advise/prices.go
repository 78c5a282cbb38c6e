package advise

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"
)

//go:embed prices.yaml
var defaultPrices []byte

// Prices is the price table: on-demand prices per region, documented in
// prices.yaml.
type Prices struct {
	// Date the prices were transcribed, such as 2025-06-01.
	Date string `yaml:"date" json:"date"`
	// Source names where the prices come from.
	Source   string `yaml:"source" json:"source"`
	Currency string `yaml:"currency" json:"currency"`
	// HoursPerMonth turns hourly prices into monthly ones (730).
	HoursPerMonth float64 `yaml:"hoursPerMonth" json:"hoursPerMonth"`
	// DefaultRegion prices regions that are not AWS regions.
	DefaultRegion string `yaml:"defaultRegion" json:"defaultRegion"`
	// HealthCheckMonth is the price of one DNS health check a month.
	HealthCheckMonth float64 `yaml:"healthCheckMonth" json:"healthCheckMonth"`
	// Equivalents price instance types by another type: local.* as m6i.
	Equivalents map[string]Equivalent `yaml:"equivalents" json:"equivalents"`
	// Regions maps an AWS region code to its prices.
	Regions map[string]RegionPrices `yaml:"regions" json:"regions"`
}

// Equivalent prices an instance type as Factor × the price of Type.
type Equivalent struct {
	Type   string  `yaml:"type" json:"type"`
	Factor float64 `yaml:"factor" json:"factor"`
}

// RegionPrices are the prices of one region.
type RegionPrices struct {
	S3StandardGBMonth  float64            `yaml:"s3StandardGBMonth" json:"s3StandardGBMonth"`
	EBSSnapshotGBMonth float64            `yaml:"ebsSnapshotGBMonth" json:"ebsSnapshotGBMonth"`
	RDSSnapshotGBMonth float64            `yaml:"rdsSnapshotGBMonth" json:"rdsSnapshotGBMonth"`
	RDSStorageGBMonth  float64            `yaml:"rdsStorageGBMonth" json:"rdsStorageGBMonth"`
	TransferOutGB      float64            `yaml:"transferOutGB" json:"transferOutGB"`
	LoadBalancerHour   float64            `yaml:"loadBalancerHour" json:"loadBalancerHour"`
	Instances          map[string]float64 `yaml:"instances" json:"instances"`
}

// DefaultPrices returns the embedded price table (prices.yaml). Each call
// returns a fresh copy.
func DefaultPrices() *Prices {
	pr, err := ParsePrices("prices.yaml", defaultPrices)
	if err != nil {
		panic(err) // the embedded table is checked by the tests
	}
	return pr
}

// LoadPrices reads, strictly decodes and validates the price table at path.
func LoadPrices(path string) (*Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("advise: load prices %s: %w", path, err)
	}
	return ParsePrices(path, data)
}

// ParsePrices decodes and validates a price table read from file (used in
// error messages). Unknown fields are errors.
func ParsePrices(file string, data []byte) (*Prices, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var pr Prices
	if err := dec.Decode(&pr); err != nil {
		return nil, fmt.Errorf("advise: parsing prices %s: %w", file, err)
	}
	if err := pr.Validate(); err != nil {
		return nil, fmt.Errorf("advise: prices %s: %w", file, err)
	}
	return &pr, nil
}

// PriceError is an invalid entry of a price table.
type PriceError struct {
	Field string
	Value any
	Msg   string
}

func (e *PriceError) Error() string { return fmt.Sprintf("%s: %s, got %v", e.Field, e.Msg, e.Value) }

// Validate checks the table: a date and source, every price above zero,
// the default region present, every region pricing the same instance
// types, and every equivalent naming one of them. It returns every
// problem, joined.
func (pr *Prices) Validate() error {
	var errs []error
	bad := func(field string, v any, msg string) {
		errs = append(errs, &PriceError{Field: field, Value: v, Msg: msg})
	}
	positive := func(field string, v float64) {
		if !(v > 0) {
			bad(field, v, "must be above zero")
		}
	}
	if pr.Date == "" {
		bad("date", `""`, "required")
	}
	if pr.Source == "" {
		bad("source", `""`, "required")
	}
	if pr.Currency == "" {
		bad("currency", `""`, "required")
	}
	positive("hoursPerMonth", pr.HoursPerMonth)
	positive("healthCheckMonth", pr.HealthCheckMonth)
	if len(pr.Regions) == 0 {
		bad("regions", 0, "must list at least one region")
	}
	if _, ok := pr.Regions[pr.DefaultRegion]; !ok {
		bad("defaultRegion", fmt.Sprintf("%q", pr.DefaultRegion), "must be one of the regions")
	}
	// Every region must price every type that any region prices.
	all := map[string]bool{}
	for _, r := range pr.Regions {
		for t := range r.Instances {
			all[t] = true
		}
	}
	for _, name := range sortedKeys(pr.Regions) {
		r := pr.Regions[name]
		path := "regions." + name
		positive(path+".s3StandardGBMonth", r.S3StandardGBMonth)
		positive(path+".ebsSnapshotGBMonth", r.EBSSnapshotGBMonth)
		positive(path+".rdsSnapshotGBMonth", r.RDSSnapshotGBMonth)
		positive(path+".rdsStorageGBMonth", r.RDSStorageGBMonth)
		positive(path+".transferOutGB", r.TransferOutGB)
		positive(path+".loadBalancerHour", r.LoadBalancerHour)
		if len(r.Instances) == 0 {
			bad(path+".instances", 0, "must price at least one instance type")
		}
		for _, t := range sortedKeys(r.Instances) {
			positive(path+".instances."+t, r.Instances[t])
		}
		for _, t := range sortedKeys(all) {
			if _, ok := r.Instances[t]; !ok {
				bad(path+".instances", t, "must price every instance type another region prices")
			}
		}
	}
	for _, name := range sortedKeys(pr.Equivalents) {
		eq := pr.Equivalents[name]
		path := "equivalents." + name
		positive(path+".factor", eq.Factor)
		for _, rn := range sortedKeys(pr.Regions) {
			if _, ok := pr.Regions[rn].Instances[eq.Type]; !ok {
				bad(path+".type", fmt.Sprintf("%q", eq.Type), "must be an instance type priced in every region (missing in "+rn+")")
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Region returns the prices of an AWS region, or an error naming it.
func (pr *Prices) Region(name string) (RegionPrices, error) {
	r, ok := pr.Regions[name]
	if !ok {
		return RegionPrices{}, fmt.Errorf("advise: price table has no region %q (it prices %v): add it to the table and pass it with --prices", name, sortedKeys(pr.Regions))
	}
	return r, nil
}

// Instance returns the hourly price of an instance type in region r, or an
// error naming the type.
func (pr *Prices) Instance(r RegionPrices, region, instanceType string) (float64, error) {
	if p, ok := r.Instances[instanceType]; ok {
		return p, nil
	}
	if eq, ok := pr.Equivalents[instanceType]; ok {
		if p, ok := r.Instances[eq.Type]; ok {
			return eq.Factor * p, nil
		}
	}
	return 0, fmt.Errorf("advise: price table has no price for instance type %q in region %s: add it to the table and pass it with --prices", instanceType, region)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
