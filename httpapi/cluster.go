package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/api"
)

// clusterStatus answers GET /v1/cluster: raft's configuration joined with
// gossip, each member's own indexes, and its lag behind this node.
func (s *Server) clusterStatus(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	members, err := s.cluster.Members(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	st := s.cluster.Status()
	out := api.ClusterStatus{NodeID: st.NodeID, Leader: st.Leader, Term: st.Term, Members: []api.ClusterMember{}}
	for _, m := range members {
		am := api.ClusterMember{
			ID: m.ID, RaftAddr: m.RaftAddr, HTTPAddr: m.HTTPAddr, Suffrage: m.Suffrage,
			Role: m.Role, Leader: m.Leader, Gossip: m.Gossip, Lag: m.Lag,
		}
		if m.Status != nil {
			am.Reachable = true
			am.State, am.Term = m.Status.State, m.Status.Term
			am.LastIndex, am.CommitIndex, am.AppliedIndex = m.Status.LastIndex, m.Status.CommitIndex, m.Status.AppliedIndex
		}
		out.Members = append(out.Members, am)
	}
	s.render(c, http.StatusOK, out)
}

// removeMember answers DELETE /v1/cluster/members/{id}: the server leaves
// raft's configuration at once (through the leader).
func (s *Server) removeMember(c *gin.Context) {
	id := c.Param("id")
	if id == "" || len(id) > 128 {
		s.fail(c, apiErr(api.CodeBadRequest, "a member id is required"))
		return
	}
	if err := s.cluster.RemoveServer(c.Request.Context(), id); err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, api.WriteResult{Revision: s.state.View().Revision()})
}
