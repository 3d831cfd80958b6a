package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func chain(n int) []Entry {
	prev := Genesis
	var es []Entry
	for i := 1; i <= n; i++ {
		e := Entry{Seq: int64(i), Time: time.Date(2026, 11, 25, 10, i, 0, 0, time.UTC), Actor: "system:test",
			Tenant: "t", Action: "incident.open", ObjectType: "incident", ObjectID: "INC-1", Detail: json.RawMessage(`{"n":1}`)}
		e.Seal(prev)
		prev = e.Hash
		es = append(es, e)
	}
	return es
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		tamper func([]Entry) []Entry
		want   string // "" = valid
	}{
		{"intact", func(es []Entry) []Entry { return es }, ""},
		{"modified detail", func(es []Entry) []Entry { es[1].Detail = json.RawMessage(`{"n":2}`); return es }, "modified"},
		{"modified actor", func(es []Entry) []Entry { es[2].Actor = "user:mallory"; return es }, "modified"},
		{"removed", func(es []Entry) []Entry { return append(es[:1], es[2:]...) }, "missing"},
		{"swapped", func(es []Entry) []Entry { es[1], es[2] = es[2], es[1]; return es }, "missing or reordered"},
		{"rehashed one", func(es []Entry) []Entry { es[1].Actor = "x"; es[1].Seal(es[1].PrevHash); return es }, "previous hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier()
			var err error
			for _, e := range tt.tamper(chain(4)) {
				if err = v.Check(&e); err != nil {
					break
				}
			}
			if tt.want == "" && err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
