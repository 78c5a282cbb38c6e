package aws

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

// statefulS3 keeps versioning and replication configurations as S3 would,
// serving back what was put.
type statefulS3 struct {
	mu          sync.Mutex
	versioning  map[string]string // by host
	replication string            // the last PutBucketReplication body
}

func (s *statefulS3) install(f *fakeAWS) {
	f.on("GetBucketVersioning", func(r sent) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		return versioningReply(s.versioning[r.Host])
	})
	f.on("PutBucketVersioning", func(r sent) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		if strings.Contains(r.Body, "<Status>Enabled</Status>") {
			s.versioning[r.Host] = "Enabled"
		}
		return reply{}
	})
	f.on("GetBucketReplication", func(sent) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.replication == "" {
			return replicationReply(testRole, otherRule) // someone else's rule is there first
		}
		return xmlBody(s.replication)
	})
	f.on("PutBucketReplication", func(r sent) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.replication = r.Body
		return reply{}
	})
}

// TestSetupIdempotent runs Setup twice against buckets that remember what
// was put: the second run must write nothing, whatever the options.
func TestSetupIdempotent(t *testing.T) {
	options := map[string]func(*NativeReplication){
		"defaults":      func(*NativeReplication) {},
		"deletes":       func(n *NativeReplication) { n.DeleteMarkers = true },
		"rtc":           func(n *NativeReplication) { n.RTC = true },
		"kms and class": func(n *NativeReplication) { n.KMSKeyARN, n.StorageClass = testKMS, "GLACIER_IR" },
		"everything": func(n *NativeReplication) {
			n.DeleteMarkers, n.RTC, n.KMSKeyARN, n.StorageClass = true, true, testKMS, "STANDARD_IA"
		},
	}
	for name, tweak := range options {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			state := &statefulS3{versioning: make(map[string]string)}
			state.install(f)
			n := newNative(f)
			tweak(n)
			first, err := n.Setup(context.Background())
			if err != nil {
				t.Fatalf("first Setup: %v", err)
			}
			if first.Rule != "created" || first.SourceVersioning != "enabled" || first.DestinationVersioning != "enabled" || first.OtherRules != 1 {
				t.Errorf("first report = %+v", first)
			}
			before := len(f.calls(""))
			second, err := n.Setup(context.Background())
			if err != nil {
				t.Fatalf("second Setup: %v", err)
			}
			ops := f.ops()[before:]
			if want := []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication"}; !slices.Equal(ops, want) {
				t.Errorf("second run calls = %v, want %v", ops, want)
			}
			if second.Rule != "unchanged" || second.SourceVersioning != "already enabled" ||
				second.DestinationVersioning != "already enabled" || second.Priority != first.Priority {
				t.Errorf("second report = %+v (first %+v)", second, first)
			}

			// A changed policy is written again, at the same priority.
			n.DeleteMarkers = !n.DeleteMarkers
			third, err := n.Setup(context.Background())
			if err != nil {
				t.Fatalf("third Setup: %v", err)
			}
			if third.Rule != "updated" || third.Priority != first.Priority || third.OtherRules != 1 {
				t.Errorf("third report = %+v", third)
			}
		})
	}
}
