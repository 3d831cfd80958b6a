package parse

import (
	"slices"
	"strconv"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// fieldSet gathers a parser's fields, sorted, on the stack, and merges them
// into the event in one pass: cheaper than one Event.Set (search + insert)
// per field on hot parsers.
type fieldSet struct {
	a [16]event.Field
	n int
}

// set adds or replaces a field; beyond capacity it writes to ev directly.
func (fs *fieldSet) set(ev *event.Event, name string, v event.Value) {
	i := fs.n
	for i > 0 && fs.a[i-1].Name >= name {
		if fs.a[i-1].Name == name {
			fs.a[i-1].Value = v
			return
		}
		i--
	}
	if fs.n == len(fs.a) {
		ev.Set(name, v)
		return
	}
	copy(fs.a[i+1:fs.n+1], fs.a[i:fs.n])
	fs.a[i] = event.Field{Name: name, Value: v}
	fs.n++
}

func (fs *fieldSet) str(ev *event.Event, name, s string) {
	if s != "" {
		fs.set(ev, name, event.StringValue(s))
	}
}

// num is setNum's counterpart.
func (fs *fieldSet) num(ev *event.Event, name, s string) {
	if s == "" {
		return
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		fs.set(ev, name, event.StringValue(s))
	case s[0] == '+' || len(s) > 1 && s[0] == '0' || len(s) > 2 && s[0] == '-' && s[1] == '0':
		fs.set(ev, name, event.NumberValue(float64(n)))
	default:
		fs.set(ev, name, event.Value{Kind: event.Number, Num: float64(n), Str: s})
	}
}

// header gathers process.name and process.pid from a syslog header when
// the event does not have them yet, and returns the body.
func (fs *fieldSet) header(ev *event.Event, msg string) string {
	prog, pid, body := splitHeader(msg)
	if prog != "" {
		if _, ok := ev.Get("process.name"); !ok {
			fs.str(ev, "process.name", prog)
		}
		if _, ok := ev.Get("process.pid"); !ok {
			fs.num(ev, "process.pid", pid)
		}
	}
	return body
}

// apply merges the gathered fields into ev.Fields (sorted, unique), the
// gathered value winning over an existing one of the same name.
func (fs *fieldSet) apply(ev *event.Event) {
	add := fs.a[:fs.n]
	if len(add) == 0 {
		return
	}
	old := len(ev.Fields)
	dups := 0
	for i, j := 0, 0; i < old && j < len(add); {
		switch c := cmpName(ev.Fields[i].Name, add[j].Name); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			dups++
			i++
			j++
		}
	}
	total := old + len(add) - dups
	f := slices.Grow(ev.Fields, len(add)-dups)[:total]
	i, j, k := old-1, len(add)-1, total-1
	for j >= 0 {
		switch {
		case i >= 0 && f[i].Name > add[j].Name:
			f[k] = f[i]
			i--
		case i >= 0 && f[i].Name == add[j].Name:
			f[k] = add[j]
			i--
			j--
		default:
			f[k] = add[j]
			j--
		}
		k--
	}
	ev.Fields = f
	fs.n = 0
}

func cmpName(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
