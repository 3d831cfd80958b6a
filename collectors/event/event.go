// Package event defines the Event that collectors produce and the detection
// engine consumes, the Batch that carries events to the bus with a completion
// callback, and a fast JSON codec with size limits.
//
// Fields use Elastic Common Schema (ECS) names, flattened to dotted keys
// ("source.ip", "process.command_line"). A nested JSON object and the dotted
// form of the same key decode to the same field. The package imports only the
// standard library so that every area can depend on it.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Kind is the JSON type of a Value.
type Kind uint8

// Value kinds.
const (
	Null Kind = iota
	String
	Number
	Bool
	List
)

// Value is one field value. Str holds the text of a String and the literal
// text of a Number; Num its numeric value. A List holds scalar Values (nested
// arrays are flattened).
type Value struct {
	Kind Kind
	Bool bool
	Num  float64
	Str  string
	List []Value
}

// StringValue returns a String Value.
func StringValue(s string) Value { return Value{Kind: String, Str: s} }

// NumberValue returns a Number Value.
func NumberValue(f float64) Value {
	return Value{Kind: Number, Num: f, Str: strconv.FormatFloat(f, 'f', -1, 64)}
}

// BoolValue returns a Bool Value.
func BoolValue(b bool) Value { return Value{Kind: Bool, Bool: b} }

// Text returns the value as text: the string, the number's literal, "true" or
// "false", "" for null. For a List it returns the first element's text.
func (v Value) Text() string {
	switch v.Kind {
	case String, Number:
		return v.Str
	case Bool:
		if v.Bool {
			return "true"
		}
		return "false"
	case List:
		if len(v.List) > 0 {
			return v.List[0].Text()
		}
	}
	return ""
}

// Each calls fn for the value itself, or for each element of a List.
func (v Value) Each(fn func(Value) bool) {
	if v.Kind != List {
		fn(v)
		return
	}
	for _, e := range v.List {
		if !fn(e) {
			return
		}
	}
}

// Field is one named value.
type Field struct {
	Name  string
	Value Value
}

// Metadata keys in the JSON form of an event. The mangrove.* keys are set by
// Mangrove itself and are dropped from untrusted input.
const (
	KeyTime    = "@timestamp"
	KeyDataset = "event.dataset"
	KeyID      = "mangrove.id"
	KeyTenant  = "mangrove.tenant"
	KeySource  = "mangrove.source"
)

// Event is one normalized event.
type Event struct {
	// ID is deterministic (see NewID): the same input yields the same ID, so
	// replays and redeliveries are recognized as duplicates downstream.
	ID string
	// Time is when the event happened, as reported by its source when known.
	Time time.Time
	// Tenant is the agency the event belongs to. It is set from the
	// authenticated sender, never from the event's content.
	Tenant string
	// Source names the collector that produced the event.
	Source string
	// Dataset is the kind of event: "syslog", "flow", "dns",
	// "windows.sysmon", ... (ECS event.dataset).
	Dataset string
	// Fields are sorted by Name, names unique. Use Get and Set.
	Fields []Field
}

// Get returns the value of the named field.
func (e *Event) Get(name string) (Value, bool) {
	i, ok := slices.BinarySearchFunc(e.Fields, name, cmpField)
	if !ok {
		return Value{}, false
	}
	return e.Fields[i].Value, true
}

// GetString returns the text of the named field, "" if absent.
func (e *Event) GetString(name string) string {
	v, _ := e.Get(name)
	return v.Text()
}

// Set sets the named field, replacing an existing value.
func (e *Event) Set(name string, v Value) {
	i, ok := slices.BinarySearchFunc(e.Fields, name, cmpField)
	if ok {
		e.Fields[i].Value = v
		return
	}
	e.Fields = slices.Insert(e.Fields, i, Field{Name: name, Value: v})
}

// Delete removes the named field if present.
func (e *Event) Delete(name string) {
	if i, ok := slices.BinarySearchFunc(e.Fields, name, cmpField); ok {
		e.Fields = slices.Delete(e.Fields, i, i+1)
	}
}

// Message returns the ECS "message" field.
func (e *Event) Message() string { return e.GetString("message") }

func cmpField(f Field, name string) int { return strings.Compare(f.Name, name) }

// NewID returns the deterministic ID of an event: a hash of the tenant, the
// source's own identity for the event (typically its raw bytes) and nothing
// else, so a re-sent event gets the same ID. It is 32 hex characters.
func NewID(tenant string, raw []byte) string {
	var sum [sha256.Size]byte
	// Short inputs (nearly every log line) are hashed from a stack buffer,
	// without the allocation of a streaming digest.
	var buf [1024]byte
	if n := len(tenant) + 1 + len(raw); n <= len(buf) {
		copy(buf[copy(buf[:], tenant)+1:], raw)
		sum = sha256.Sum256(buf[:n])
	} else {
		h := sha256.New()
		h.Write([]byte(tenant))
		h.Write([]byte{0})
		h.Write(raw)
		h.Sum(sum[:0])
	}
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	return string(out[:])
}

// Batch carries events from a collector to the bus. The publisher calls Done
// exactly once: with nil when every event is durably handed on, or with the
// error that stopped it. A collector acknowledges its sender (HTTP 2xx, TCP
// read, file offset) only on Done(nil).
type Batch struct {
	Events []Event
	done   func(error)
	called atomic.Bool
}

// NewBatch returns a batch whose Done calls done. done may be nil.
func NewBatch(events []Event, done func(error)) *Batch {
	return &Batch{Events: events, done: done}
}

// Done reports the batch's outcome. Only the first call has an effect.
func (b *Batch) Done(err error) {
	if b.called.Swap(true) {
		return
	}
	if b.done != nil {
		b.done(err)
	}
}
