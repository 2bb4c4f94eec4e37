package fsm

import "github.com/schemakv/schemakv/store"

// TypeReapTombstones drops old config tombstones (see
// store.Txn.ReapConfigTombstones).
const TypeReapTombstones Type = 18

// ReapTombstones is proposed by the leader's tombstone reaper: it drops the
// tombstones of config keys deleted before revision Before, raising their
// namespaces' floors so that no answer's revision goes back. It changes no
// entry and records no event.
type ReapTombstones struct {
	Before uint64 `json:"before"`
}

func applyReapTombstones(tx *store.Txn, rev uint64, body []byte) *Result {
	var c ReapTombstones
	mustDecode(rev, body, &c)
	tx.ReapConfigTombstones(min(c.Before, rev))
	return &Result{Revision: rev}
}
