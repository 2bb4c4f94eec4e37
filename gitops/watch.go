package gitops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schemakv/schemakv/client"
)

// PlanDir loads dir (only the given namespaces when not empty), reads the
// server's state of the namespaces it holds and computes the plan. The
// directory's problems come back as Problems, before the server is asked
// anything.
func PlanDir(ctx context.Context, c *client.Client, dir string, namespaces []string, opts PlanOptions) (*Plan, error) {
	d, err := Load(dir, namespaces)
	if err != nil {
		return nil, err
	}
	st, err := Fetch(ctx, c, sortedKeys(d.Namespaces), nil)
	if err != nil {
		return nil, err
	}
	if len(d.Namespaces) == 0 {
		return &Plan{Format: PlanFormat, Reason: opts.Reason, Prune: opts.Prune}, nil
	}
	return Compute(ctx, d, st, opts)
}

// WatchOptions configures Watch.
type WatchOptions struct {
	Dir        string
	Namespaces []string
	// Interval between checks of the work tree's commit; at least 100ms.
	Interval time.Duration
	Prune    bool
	Apply    ApplyOptions
	// Report, when set, is called after each attempt: the commit, the plan
	// (nil if none was made) and the result or error of applying it.
	Report func(c *Commit, p *Plan, res *ApplyResult, err error)
}

// Watch applies the directory whenever the commit of its Git work tree
// changes: at once, and then each time a check finds a HEAD different from
// the last one applied successfully (a failed attempt is retried at the next
// check). It returns when ctx is done (nil), or an error if dir is not in a
// Git work tree.
func Watch(ctx context.Context, c *client.Client, opts WatchOptions) error {
	if opts.Interval < 100*time.Millisecond {
		return fmt.Errorf("gitops: watch interval %v is below 100ms", opts.Interval)
	}
	if _, err := HeadCommit(ctx, opts.Dir); err != nil {
		return fmt.Errorf("gitops: watch needs %s in a git work tree with a commit: %w", opts.Dir, err)
	}
	last := ""
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	for {
		head, err := HeadCommit(ctx, opts.Dir)
		if err == nil && head.Hash != last {
			p, res, err := syncOnce(ctx, c, head, opts)
			if opts.Report != nil {
				opts.Report(head, p, res, err)
			}
			if err == nil {
				last = head.Hash
			}
		} else if err != nil && opts.Report != nil && !errors.Is(ctx.Err(), context.Canceled) {
			opts.Report(nil, nil, nil, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func syncOnce(ctx context.Context, c *client.Client, head *Commit, opts WatchOptions) (*Plan, *ApplyResult, error) {
	p, err := PlanDir(ctx, c, opts.Dir, opts.Namespaces, PlanOptions{Prune: opts.Prune, Reason: head.Reason()})
	if err != nil {
		return nil, nil, err
	}
	if !p.HasChanges() {
		return p, &ApplyResult{}, nil
	}
	res, err := Apply(ctx, c, p, opts.Apply)
	return p, res, err
}
