package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/auth"
	"github.com/schemakv/schemakv/fsm"
)

// Limits of the authentication routes.
const (
	// MaxTokenTTL is the longest ttl of a token (10 years).
	MaxTokenTTL = 10 * 365 * 24 * time.Hour
	// MaxSubjectLen bounds a binding's subject.
	MaxSubjectLen = 256
	// defaultRevokeWait bounds the wait for members to apply a revocation.
	defaultRevokeWait = 5 * time.Second
)

// newBindingID returns a random binding id ("rb" + 16 hex digits).
func newBindingID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("httpapi: binding id: %w", err)
	}
	return "rb" + hex.EncodeToString(b), nil
}

// checkBindRequest validates the role, scope and subject of a binding.
func checkBindRequest(role, ns, kind, subject string) error {
	if !auth.ValidRole(role) {
		return apiErr(api.CodeBadRequest, "role must be admin, editor or viewer, not %q", role)
	}
	if ns != "" {
		if err := api.ValidateName(ns); err != nil {
			return err
		}
	}
	if !auth.ValidSubjectKind(kind) {
		return apiErr(api.CodeBadRequest, "subject_kind must be token, oidc_user or oidc_group, not %q", kind)
	}
	if subject == "" || len(subject) > MaxSubjectLen {
		return apiErr(api.CodeBadRequest, "subject must be 1 to %d bytes", MaxSubjectLen)
	}
	return nil
}

func (s *Server) whoami(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		s.render(c, http.StatusOK, api.WhoAmI{Kind: "dev", Audit: s.auditPrincipal(c), Bindings: []api.RoleBinding{}})
		return
	}
	s.render(c, http.StatusOK, s.whoAmIOf(p))
}

// whoAmIOf describes principal p with the role bindings that apply to it.
func (s *Server) whoAmIOf(p auth.Principal) api.WhoAmI {
	out := api.WhoAmI{Kind: string(p.Kind), ID: p.ID, Name: p.Name, Subject: p.Subject, Groups: p.Groups,
		Audit: p.Audit(), Bindings: []api.RoleBinding{}}
	for _, b := range s.state.View().Bindings() {
		if auth.Matches(b, p) {
			out.Bindings = append(out.Bindings, b)
		}
	}
	return out
}

func (s *Server) createToken(c *gin.Context) {
	var req api.CreateTokenRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"name": ...}`))
		return
	}
	if err := auth.ValidateTokenName(req.Name); err != nil {
		s.fail(c, apiErr(api.CodeBadRequest, "%v", err))
		return
	}
	var expires int64
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > MaxTokenTTL {
			s.fail(c, apiErr(api.CodeBadRequest, "ttl must be a positive duration such as 720h, at most %v", MaxTokenTTL))
			return
		}
		expires = time.Now().Add(d).UnixNano()
	}
	if req.Role == "" && req.Namespace != "" {
		s.fail(c, apiErr(api.CodeBadRequest, "namespace needs a role"))
		return
	}
	a, err := s.audit(c, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	secret, id, hash, err := auth.NewToken()
	if err != nil {
		s.fail(c, err)
		return
	}
	cmd := &fsm.CreateToken{Audit: a, ID: id, Name: req.Name, Hash: hash, ExpiresAt: expires}
	if req.Role != "" {
		if err := checkBindRequest(req.Role, req.Namespace, api.SubjectToken, id); err != nil {
			s.fail(c, err)
			return
		}
		bid, err := newBindingID()
		if err != nil {
			s.fail(c, err)
			return
		}
		cmd.Bindings = []api.RoleBinding{{ID: bid, Role: req.Role, Namespace: req.Namespace, SubjectKind: api.SubjectToken, Subject: id}}
	}
	r, err := s.apply(c, cmd)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("token created", "token_id", id, "name", req.Name, "by", a.Principal, "revision", r.Revision)
	c.Header("Cache-Control", "no-store")
	s.render(c, http.StatusCreated, api.TokenCreated{Token: *r.Token, Secret: secret, Bindings: r.Bindings})
}

func (s *Server) listTokens(c *gin.Context) {
	v, err := s.read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := api.TokenList{Items: []api.Token{}, Revision: v.Revision()}
	for _, t := range v.Tokens() {
		out.Items = append(out.Items, t.Token)
	}
	s.render(c, http.StatusOK, out)
}

// revokeToken revokes a token and then waits, up to RevokeWait, until every
// member of the raft configuration has applied the revocation: from then on
// no node accepts the token, stale reads included. Members that did not
// confirm in time are listed; they reject the token as soon as they apply
// the entry.
func (s *Server) revokeToken(c *gin.Context) {
	id := c.Param("id")
	a, err := s.audit(c, c.GetHeader(HeaderReason))
	if err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.RevokeToken{Audit: a, ID: id})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("token revoked", "token_id", id, "by", a.Principal, "revision", r.Revision)
	out := api.RevokeResult{Token: *r.Token, Revision: r.Revision}
	out.Confirmed, out.Unconfirmed = s.waitMembersApplied(c.Request.Context(), r.Revision)
	out.Complete = len(out.Unconfirmed) == 0
	if !out.Complete {
		s.log.Warn("token revocation not confirmed by every member", "token_id", id, "revision", r.Revision,
			"unconfirmed", out.Unconfirmed)
	}
	s.render(c, http.StatusOK, out)
}

// waitMembersApplied polls the members' applied indexes until every member
// of the raft configuration reached rev or RevokeWait passed.
func (s *Server) waitMembersApplied(ctx context.Context, rev uint64) (confirmed, unconfirmed []string) {
	wait := s.cfg.RevokeWait
	if wait <= 0 {
		wait = defaultRevokeWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// A member that confirmed stays confirmed: applied indexes only rise.
	done := map[string]bool{}
	for {
		unconfirmed = unconfirmed[:0]
		// Each round is bounded on its own, so one member that does not
		// answer does not hold up the others' confirmations.
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		members, err := s.cluster.Members(rctx)
		cancel()
		if err != nil {
			unconfirmed = append(unconfirmed, "(membership unknown: "+err.Error()+")")
		}
		for _, m := range members {
			if m.Suffrage != "voter" && m.Suffrage != "nonvoter" {
				continue // not in raft's configuration: it receives no log
			}
			if done[m.ID] || (m.Status != nil && m.Status.AppliedIndex >= rev) {
				done[m.ID] = true
			} else {
				unconfirmed = append(unconfirmed, m.ID)
			}
		}
		if len(unconfirmed) == 0 || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	for id := range done {
		confirmed = append(confirmed, id)
	}
	slices.Sort(confirmed)
	slices.Sort(unconfirmed)
	if len(unconfirmed) == 0 {
		unconfirmed = nil
	}
	return confirmed, unconfirmed
}

func (s *Server) bind(c *gin.Context) {
	var req api.BindRequest
	ok, err := s.decodeBody(c, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, apiErr(api.CodeBadRequest, `body must be {"role", "subject_kind", "subject"[, "namespace"]}`))
		return
	}
	if err := checkBindRequest(req.Role, req.Namespace, req.SubjectKind, req.Subject); err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.audit(c, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	id, err := newBindingID()
	if err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.Bind{Audit: a, Binding: api.RoleBinding{ID: id, Role: req.Role, Namespace: req.Namespace,
		SubjectKind: req.SubjectKind, Subject: req.Subject}})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("role bound", "binding_id", id, "role", req.Role, "namespace", req.Namespace,
		"subject_kind", req.SubjectKind, "subject", req.Subject, "by", a.Principal, "revision", r.Revision)
	s.render(c, http.StatusCreated, r.Bindings[0])
}

func (s *Server) listBindings(c *gin.Context) {
	v, err := s.read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := api.BindingList{Items: []api.RoleBinding{}, Revision: v.Revision()}
	ns := c.Query("namespace")
	for _, b := range v.Bindings() {
		if ns == "" || b.Namespace == ns {
			out.Items = append(out.Items, b)
		}
	}
	s.render(c, http.StatusOK, out)
}

func (s *Server) unbind(c *gin.Context) {
	id := c.Param("id")
	a, err := s.audit(c, c.GetHeader(HeaderReason))
	if err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.apply(c, &fsm.Unbind{Audit: a, ID: id})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("role unbound", "binding_id", id, "by", a.Principal, "revision", r.Revision)
	s.render(c, http.StatusOK, api.WriteResult{Revision: r.Revision})
}
