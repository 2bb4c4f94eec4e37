package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
	"unsafe"

	"github.com/schemakv/schemakv/api"
	"github.com/schemakv/schemakv/internal/jsonutil"
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
	var fields [6][]byte
	total := 0
	for i := range fields {
		fields[i] = d.bytes()
		total += len(fields[i])
	}
	if d.err != nil {
		return nil, d.err
	}
	// One allocation holds every variable-length field: bbolt's bytes are
	// only valid inside the transaction, and at start-up this runs once per
	// entry. The strings and the value share the buffer, which nothing ever
	// writes again (entries are immutable).
	buf := make([]byte, 0, total)
	var out [6][]byte
	for i, f := range fields {
		start := len(buf)
		buf = append(buf, f...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	e.Namespace = bytesString(out[0])
	e.Key = bytesString(out[1])
	e.Schema = bytesString(out[2])
	e.ModifiedBy = bytesString(out[3])
	e.Reason = bytesString(out[4])
	e.Value = out[5]
	return e, nil
}

// bytesString returns b as a string without copying; b must never change.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
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

// appendEvent appends ev as JSON, byte for byte as encoding/json encodes it
// (without HTML escaping), but copies ev.Value as it is: values reach the
// store compact and valid (the commands that carry them were decoded), and
// re-validating every value was a large share of a write's CPU.
// TestStore_AppendEventMatchesEncodingJSON keeps the two in step.
func appendEvent(b []byte, ev *api.Event) []byte {
	b = slices.Grow(b, 256+len(ev.Namespace)+len(ev.Key)+len(ev.Value)+len(ev.Schema)+len(ev.Principal)+len(ev.Reason))
	b = append(b, `{"revision":`...)
	b = jsonutil.AppendUint(b, ev.Revision)
	b = append(b, `,"kind":`...)
	b = jsonutil.AppendString(b, ev.Kind)
	b = append(b, `,"op":`...)
	b = jsonutil.AppendString(b, ev.Op)
	b = append(b, `,"namespace":`...)
	b = jsonutil.AppendString(b, ev.Namespace)
	if ev.Key != "" {
		b = append(b, `,"key":`...)
		b = jsonutil.AppendString(b, ev.Key)
	}
	if len(ev.Value) > 0 {
		b = append(b, `,"value":`...)
		b = append(b, ev.Value...)
	}
	if ev.Schema != "" {
		b = append(b, `,"schema":`...)
		b = jsonutil.AppendString(b, ev.Schema)
	}
	if ev.SchemaVersion != 0 {
		b = append(b, `,"schema_version":`...)
		b = jsonutil.AppendInt(b, int64(ev.SchemaVersion))
	}
	if ev.Version != 0 {
		b = append(b, `,"version":`...)
		b = jsonutil.AppendUint(b, ev.Version)
	}
	if ev.PrevRevision != 0 {
		b = append(b, `,"prev_revision":`...)
		b = jsonutil.AppendUint(b, ev.PrevRevision)
	}
	b = append(b, `,"principal":`...)
	b = jsonutil.AppendString(b, ev.Principal)
	if ev.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonutil.AppendString(b, ev.Reason)
	}
	b = append(b, `,"time":`...)
	b = jsonutil.AppendTime(b, ev.Time)
	if ev.RollbackOf != 0 {
		b = append(b, `,"rollback_of":`...)
		b = jsonutil.AppendUint(b, ev.RollbackOf)
	}
	if ev.Force {
		b = append(b, `,"force":true`...)
	}
	return append(b, '}')
}
