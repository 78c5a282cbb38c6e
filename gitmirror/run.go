package gitmirror

import (
	"context"
	"time"

	"github.com/pilotlight/pilotlight/backoff"
)

// Run mirrors every repository now and then every interval until ctx ends,
// and returns nil then. After a pass in which any repository failed, the
// next pass comes sooner: Options.RetryMin, doubling with each consecutive
// failed pass, with jitter, never later than interval. Each pass's results
// go to Options.OnPass; failures are also in the state file.
func (m *Mirror) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 15 * time.Minute
	}
	failed := 0
	for {
		results, err := m.Sync(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// The state file cannot be written: retrying will not help.
			return err
		}
		if m.opts.OnPass != nil {
			m.opts.OnPass(results)
		}
		wait := interval
		if anyFailed(results) {
			failed++
			wait = min(backoff.Equal(m.opts.RetryMin, interval, failed), interval)
		} else {
			failed = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.opts.After(wait):
		}
	}
}

func anyFailed(rs []Result) bool {
	for _, r := range rs {
		if r.Error != "" {
			return true
		}
	}
	return false
}
