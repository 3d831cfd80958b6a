package event

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func TestInternName(t *testing.T) {
	a := InternName(strings.Clone("Event.EventData.Image"))
	b := InternName(strings.Clone("Event.EventData.Image"))
	if a != "Event.EventData.Image" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("InternName: %q at %p and %p, want one string", a, unsafe.StringData(a), unsafe.StringData(b))
	}
	if !IsInterned(a) {
		t.Error("IsInterned(interned name) = false")
	}
	if c := strings.Clone(a); IsInterned(c) {
		t.Error("IsInterned(a copy) = true")
	}
	long := strings.Repeat("x", maxInternLen+1)
	if got := InternName(long); unsafe.StringData(got) != unsafe.StringData(long) || IsInterned(got) {
		t.Error("a name over maxInternLen was interned")
	}
	if InternName("") != "" || IsInterned("") {
		t.Error("the empty name")
	}
	var c NameCache
	if got := c.Intern(strings.Clone("Image")); unsafe.StringData(got) != unsafe.StringData(InternName("Image")) {
		t.Error("NameCache.Intern differs from InternName")
	}
	if got := c.internBytes([]byte("Image")); unsafe.StringData(got) != unsafe.StringData(InternName("Image")) {
		t.Error("NameCache.internBytes differs from InternName")
	}
}

// TestInternEviction fills the table beyond its size: every name stays
// correct, and names still intern afterwards.
func TestInternEviction(t *testing.T) {
	var c NameCache
	for i := range 4 * internBuckets * internWays {
		n := fmt.Sprintf("field.%d", i)
		if got := c.Intern(n); got != n {
			t.Fatalf("Intern(%q) = %q", n, got)
		}
		if got := c.internBytes([]byte(n)); got != n {
			t.Fatalf("internBytes(%q) = %q", n, got)
		}
	}
	a, b := InternName("after.eviction"), InternName("after.eviction")
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("no interning after eviction")
	}
}

func TestDecoderInternsNames(t *testing.T) {
	var d Decoder
	var e1, e2 Event
	if err := d.Decode([]byte(`{"Image":"a","Event":{"System":{"Channel":"x"}}}`), &e1); err != nil {
		t.Fatal(err)
	}
	var d2 Decoder // another decoder shares the table
	if err := d2.Decode([]byte(`{"Event":{"System":{"Channel":"y"}},"Image":"b"}`), &e2); err != nil {
		t.Fatal(err)
	}
	if len(e1.Fields) != 2 || len(e2.Fields) != 2 {
		t.Fatalf("fields %v %v", e1.Fields, e2.Fields)
	}
	for i := range e1.Fields {
		n1, n2 := e1.Fields[i].Name, e2.Fields[i].Name
		if n1 != n2 || unsafe.StringData(n1) != unsafe.StringData(n2) || !IsInterned(n1) {
			t.Errorf("field %d: %q at %p and %q at %p, want one interned string", i, n1, unsafe.StringData(n1), n2, unsafe.StringData(n2))
		}
	}
}

func TestInternConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var c NameCache
			for i := range 20000 {
				n := fmt.Sprintf("f%d", (i*7+g)%5000)
				if got := c.Intern(n); got != n {
					t.Errorf("Intern(%q) = %q", n, got)
					return
				}
			}
		})
	}
	wg.Wait()
}
