package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/schemakv/schemakv/api"
)

// Config entries are the bulk of the file and of the work at start-up, so
// they use a compact binary record instead of JSON:
//
//	byte     record version (1)
//	uvarint  create revision, modify revision, version, schema version
//	varint   modified-at, Unix nanoseconds
//	string*  namespace, key, schema, modified-by, reason, value
//
// where each string is a uvarint length followed by the bytes.
const entryRecordV1 = 1

var errShortRecord = errors.New("short record")

func encodeEntry(e *api.ConfigEntry) []byte {
	n := 1 + 5*binary.MaxVarintLen64 + 6*binary.MaxVarintLen32 +
		len(e.Namespace) + len(e.Key) + len(e.Schema) + len(e.ModifiedBy) + len(e.Reason) + len(e.Value)
	b := make([]byte, 0, n)
	b = append(b, entryRecordV1)
	b = binary.AppendUvarint(b, e.CreateRevision)
	b = binary.AppendUvarint(b, e.ModifyRevision)
	b = binary.AppendUvarint(b, e.Version)
	b = binary.AppendUvarint(b, uint64(e.SchemaVersion))
	b = binary.AppendVarint(b, e.ModifiedAt.UnixNano())
	for _, s := range []string{e.Namespace, e.Key, e.Schema, e.ModifiedBy, e.Reason} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Value)))
	return append(b, e.Value...)
}

func decodeEntry(b []byte) (*api.ConfigEntry, error) {
	if len(b) == 0 || b[0] != entryRecordV1 {
		return nil, fmt.Errorf("unknown config record version")
	}
	d := decoder{b: b[1:]}
	e := &api.ConfigEntry{}
	e.CreateRevision = d.uvarint()
	e.ModifyRevision = d.uvarint()
	e.Version = d.uvarint()
	e.SchemaVersion = int(d.uvarint())
	e.ModifiedAt = time.Unix(0, d.varint()).UTC()
	e.Namespace = string(d.bytes())
	e.Key = string(d.bytes())
	e.Schema = string(d.bytes())
	e.ModifiedBy = string(d.bytes())
	e.Reason = string(d.bytes())
	// The value is copied: bbolt's bytes are only valid inside the
	// transaction.
	e.Value = append([]byte(nil), d.bytes()...)
	if d.err != nil {
		return nil, d.err
	}
	return e, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = errShortRecord
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
