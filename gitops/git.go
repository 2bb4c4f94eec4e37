package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// gitTimeout bounds each git command.
const gitTimeout = 30 * time.Second

// MaxReasonBytes is the longest reason the server records (its default
// limit); GitReason shortens a long commit subject to fit.
const MaxReasonBytes = 1024

// Commit is the Git commit a work tree is at.
type Commit struct {
	Hash    string `json:"hash"`
	Subject string `json:"subject"`
	// Dirty is set when the directory has changes that are not committed.
	Dirty bool `json:"dirty"`
}

// ErrNotGit means the directory is not inside a Git work tree (or the
// repository has no commit yet).
var ErrNotGit = errors.New("gitops: not in a git work tree with a commit")

// HeadCommit returns the commit of the work tree that holds dir, using the
// git command. It is ErrNotGit when dir is not in a work tree, when the
// repository has no commit, or when git is not installed.
func HeadCommit(ctx context.Context, dir string) (*Commit, error) {
	out, err := git(ctx, dir, "rev-parse", "--is-inside-work-tree")
	if err != nil || strings.TrimSpace(out) != "true" {
		return nil, ErrNotGit
	}
	out, err = git(ctx, dir, "log", "-1", "--format=%H%x00%s")
	if err != nil {
		return nil, ErrNotGit
	}
	hash, subject, _ := strings.Cut(strings.TrimRight(out, "\n"), "\x00")
	c := &Commit{Hash: hash, Subject: subject}
	status, err := git(ctx, dir, "status", "--porcelain", "--", ".")
	if err != nil {
		return nil, fmt.Errorf("gitops: git status: %w", err)
	}
	c.Dirty = strings.TrimSpace(status) != ""
	return c, nil
}

// Reason returns the text recorded in the history for changes applied from
// this commit: "git <hash> <subject>", marked when the work tree was dirty,
// at most MaxReasonBytes.
func (c *Commit) Reason() string {
	s := "git " + c.Hash + " " + c.Subject
	if c.Dirty {
		s += " (with uncommitted changes)"
	}
	return TruncateReason(s)
}

// TruncateReason shortens s to at most MaxReasonBytes without splitting a
// character.
func TruncateReason(s string) string {
	if len(s) > MaxReasonBytes {
		// A cut inside a multi-byte character leaves invalid UTF-8,
		// which ToValidUTF8 drops.
		s = s[:MaxReasonBytes]
	}
	return strings.ToValidUTF8(s, "")
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
