package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local"
	"github.com/pilotlight/pilotlight/provider/local/objstore"
	"github.com/pilotlight/pilotlight/replicate"
)

// replicateFlags are the flags shared by `replicate` and `verify`.
type replicateFlags struct {
	buckets  []string
	from, to string
	deletes  string
	archived string
}

func (f *replicateFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.buckets, "bucket", nil, "replicate only this plan bucket (repeatable; default all)")
	fl.StringVar(&f.from, "from", "", "source URL s3://BUCKET[/PREFIX]?endpoint=URL&region=R&profile=P (instead of the plan)")
	fl.StringVar(&f.to, "to", "", "replica URL, same form as --from")
	fl.StringVar(&f.deletes, "deletes", "keep", "with --from/--to: keep or replicate deletes")
	fl.StringVar(&f.archived, "archived", "skip", "with --from/--to: skip or copy archived (GLACIER, DEEP_ARCHIVE) objects")
}

// pair is one source → replica replication to run.
type pair struct {
	name      string // bucket name, for display
	src, dst  replicate.Endpoint
	policy    replicate.Policy
	objective time.Duration
	id        string // stable identifier for the checkpoint file
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// pairs resolves the endpoints to replicate, from URLs or from the plan.
func (f *replicateFlags) pairs(ctx context.Context, g *globals) ([]pair, *plan.Plan, error) {
	if f.from != "" || f.to != "" {
		if f.from == "" || f.to == "" {
			return nil, nil, &usageError{errors.New("--from and --to go together")}
		}
		if len(f.buckets) > 0 {
			return nil, nil, &usageError{errors.New("--bucket selects plan buckets; it cannot be used with --from/--to")}
		}
		pol := replicate.Policy{Deletes: plan.DeletePolicy(f.deletes), Archived: plan.ArchivedPolicy(f.archived)}
		if pol.Deletes != plan.DeletesKeep && pol.Deletes != plan.DeletesReplicate {
			return nil, nil, &usageError{fmt.Errorf("--deletes must be keep or replicate, not %q", f.deletes)}
		}
		if pol.Archived != plan.ArchivedSkip && pol.Archived != plan.ArchivedCopy {
			return nil, nil, &usageError{fmt.Errorf("--archived must be skip or copy, not %q", f.archived)}
		}
		from, err := replicate.ParseURL(f.from)
		if err != nil {
			return nil, nil, &usageError{fmt.Errorf("--from: %w", err)}
		}
		to, err := replicate.ParseURL(f.to)
		if err != nil {
			return nil, nil, &usageError{fmt.Errorf("--to: %w", err)}
		}
		src, err := from.Open(ctx)
		if err != nil {
			return nil, nil, err
		}
		dst, err := to.Open(ctx)
		if err != nil {
			return nil, nil, err
		}
		h := sha256.Sum256([]byte(from.Endpoint + "\x00" + from.Bucket + "/" + from.Prefix + "\x00" + to.Endpoint + "\x00" + to.Bucket + "/" + to.Prefix))
		return []pair{{name: from.Bucket, src: src, dst: dst, policy: pol, id: from.Bucket + "-" + hex.EncodeToString(h[:6])}}, nil, nil
	}
	p, err := g.loadPlan()
	if err != nil {
		return nil, nil, err
	}
	pairs, err := f.pairsFromPlan(ctx, g, p)
	return pairs, p, err
}

// pairsFromPlan resolves the plan's buckets (those named by --bucket, or
// all) to endpoints in its primary and recovery regions.
func (f *replicateFlags) pairsFromPlan(ctx context.Context, g *globals, p *plan.Plan) ([]pair, error) {
	want := map[string]bool{}
	for _, b := range f.buckets {
		want[b] = true
	}
	var out []pair
	for _, b := range p.Data.Buckets {
		if len(want) > 0 && !want[b.Name] {
			continue
		}
		delete(want, b.Name)
		src, err := planEndpoint(ctx, g, p.Regions.Primary, b.Name)
		if err != nil {
			return nil, err
		}
		dst, err := planEndpoint(ctx, g, p.Regions.Recovery, b.RecoveryName())
		if err != nil {
			return nil, err
		}
		out = append(out, pair{
			name: b.Name, src: src, dst: dst,
			policy:    replicate.Policy{Deletes: b.Deletes, Archived: b.Archived},
			objective: p.Objectives.RPO.D(),
			id:        unsafeChars.ReplaceAllString(p.Regions.Primary.Name+"-"+b.Name+"-to-"+p.Regions.Recovery.Name+"-"+b.RecoveryName(), "_"),
		})
	}
	for b := range want {
		return nil, fmt.Errorf("replicate: bucket %q is not in the plan %s", b, p.File())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("replicate: the plan %s has no buckets under data.buckets", p.File())
	}
	return out, nil
}

// planEndpoint builds the endpoint of bucket in a plan region.
func planEndpoint(ctx context.Context, g *globals, r plan.Region, bucket string) (replicate.Endpoint, error) {
	switch r.Provider {
	case plan.ProviderLocal:
		url, err := local.StoreEndpoint(r)
		if err != nil {
			return replicate.Endpoint{}, err
		}
		creds, err := local.LoadCredentials(g.stateDir)
		if err != nil {
			return replicate.Endpoint{}, fmt.Errorf("replicate: region %s: %w", r.Name, err)
		}
		client := objstore.NewClient(url, creds.AccessKey, creds.SecretKey, local.StoreRegion, replicate.BulkOptions)
		return replicate.Endpoint{Client: client, Bucket: bucket, Name: fmt.Sprintf("s3://%s (%s, %s)", bucket, r.Name, url)}, nil
	case plan.ProviderAWS:
		u := replicate.URLSpec{Bucket: bucket, Region: r.Name, Profile: r.Profile, Endpoint: r.Endpoint}
		ep, err := u.Open(ctx)
		if err != nil {
			return replicate.Endpoint{}, err
		}
		ep.Name = fmt.Sprintf("s3://%s (%s)", bucket, r.Name)
		return ep, nil
	default:
		return replicate.Endpoint{}, fmt.Errorf("replicate: region %s: provider %q has no object store to replicate", r.Name, r.Provider)
	}
}

func checkpointPath(g *globals, id string) string {
	return filepath.Join(g.stateDir, "replication", id+".db")
}
