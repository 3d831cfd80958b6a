package syslog

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc3164"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var testMeta = meta{collector: "test", tenant: "camau", addr: netip.MustParseAddrPort("192.0.2.7:51514"),
	received: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}

func TestParseGolden(t *testing.T) {
	ict := time.FixedZone("ICT", 7*3600)
	cases := []struct {
		name   string
		in     string
		zone   *time.Location
		parsed bool
		keep   bool
	}{
		{"rfc5424_sshd", `<134>1 2026-11-25T10:00:00.000000+07:00 web01.camau.gov.vn sshd 4242 - - Failed password for invalid user admin from 203.0.113.9 port 22022 ssh2`, time.UTC, true, false},
		{"rfc5424_sd", `<165>1 2026-11-25T03:04:05.123Z fw1 app - ID47 [exampleSDID@32473 iut="3" eventSource="Application"][origin ip="192.0.2.1"] An application event`, time.UTC, true, true},
		{"rfc5424_nil_fields", `<13>1 - - - - - -`, time.UTC, true, false},
		{"rfc5424_procid_text", `<86>1 2026-11-25T10:00:00Z h su worker-3 - - (to root) alice on pts/0`, time.UTC, true, false},
		{"rfc3164_zone", `<38>Nov 25 10:00:00 web01 sudo[991]: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/id`, ict, true, false},
		{"rfc3164_no_tag", `<13>Nov  5 01:02:03 myhost plain message without tag`, time.UTC, true, false},
		{"rfc3164_rfc3339", `<34>2026-11-25T10:00:00+07:00 mymachine su: 'su root' failed for lonvick on /dev/pts/8`, time.UTC, true, false},
		{"garbage", "this is not syslog at all", time.UTC, false, false},
		{"empty_pri", "<>bad", time.UTC, false, false},
		{"trailing_newline", "<14>1 2026-11-25T10:00:00Z h a - - - hi\r\n", time.UTC, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newParser(tc.keep, ParserNone, nil)
			p.year = rfc3164.Year{YYYY: 2026}
			ev, ok := parseOne(p, []byte(tc.in), tc.zone, testMeta)
			if ok != tc.parsed {
				t.Errorf("parsed = %v, want %v (%s)", ok, tc.parsed, ev.GetString("error.message"))
			}
			if ev.ID != event.NewID("camau", trimTrailingNewline([]byte(tc.in))) {
				t.Errorf("ID %s is not NewID(tenant, raw)", ev.ID)
			}
			got := event.AppendJSON(nil, &ev)
			got = append(got, '\n')
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("event differs from %s:\ngot  %s\nwant %s", golden, got, want)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	p := newParser(false, ParserNone, nil)
	ev, ok := parseOne(p, []byte(`<165>1 2026-11-25T03:04:05.123Z fw1 app 77 ID47 [x@1 a="b"] msg`), time.UTC, testMeta)
	if !ok {
		t.Fatal("not parsed")
	}
	want := map[string]string{
		"log.syslog.priority": "165", "log.syslog.facility.code": "20", "log.syslog.facility.name": "local4",
		"log.syslog.severity.code": "5", "log.syslog.severity.name": "notice", "host.hostname": "fw1",
		"process.name": "app", "process.pid": "77", "log.syslog.msgid": "ID47", "syslog.structured_data.x@1.a": "b",
		"message": "msg", "source.ip": "192.0.2.7", "source.port": "51514",
	}
	for k, v := range want {
		if got := ev.GetString(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := ev.Get("event.original"); ok {
		t.Error("event.original set without keep_original")
	}
	if !ev.Time.Equal(time.Date(2026, 11, 25, 3, 4, 5, 123e6, time.UTC)) || ev.Dataset != "syslog" || ev.Tenant != "camau" {
		t.Errorf("time %v dataset %q tenant %q", ev.Time, ev.Dataset, ev.Tenant)
	}
	// RFC 3164 timestamps are read in the source's zone.
	ict := time.FixedZone("ICT", 7*3600)
	ev, _ = parseOne(p, []byte(`<38>Nov 25 10:00:00 web01 sshd[1]: x`), ict, testMeta)
	if h := ev.Time.UTC().Hour(); h != 3 {
		t.Errorf("RFC 3164 in UTC+7: hour %d UTC, want 3", h)
	}
}

// parseOne parses raw into a new event.
func parseOne(p *parser, raw []byte, zone *time.Location, md meta) (event.Event, bool) {
	var ev event.Event
	ok := p.parse(&ev, raw, zone, md)
	return ev, ok
}

// TestSlabNeighbours checks that events carved from one slab do not share
// field storage: growing one event's fields leaves the next one intact,
// also across slab boundaries and for events too large for the slab.
func TestSlabNeighbours(t *testing.T) {
	p := newParser(false, ParserNone, nil)
	var sd strings.Builder
	for i := range event.SlabFields / 4 {
		fmt.Fprintf(&sd, "[s%d@1]", i)
	}
	msgs := []string{"<13>1 - h a - - - one", "<13>1 - h a - - " + sd.String() + " big", "<13>1 - h a - - - two"}
	var evs []event.Event
	for i := range 3 * event.SlabFields / maxFixedFields {
		ev, _ := parseOne(p, []byte(msgs[i%len(msgs)]), time.UTC, testMeta)
		evs = append(evs, ev)
	}
	for i := range evs {
		evs[i].Set("zzz.added", event.StringValue(strconv.Itoa(i)))
		evs[i].Set("aaa.added", event.StringValue(strconv.Itoa(i)))
	}
	for i, ev := range evs {
		if got := ev.GetString("zzz.added") + ev.GetString("aaa.added"); got != strconv.Itoa(i)+strconv.Itoa(i) {
			t.Fatalf("event %d: added fields %q: overwritten by a neighbour", i, got)
		}
		if msg := ev.Message(); msg != strings.Fields(msgs[i%len(msgs)])[len(strings.Fields(msgs[i%len(msgs)]))-1] {
			t.Fatalf("event %d: message %q", i, msg)
		}
	}
}

// TestFieldsSorted checks that parse's hand-ordered fields are sorted and
// unique, as event.Event requires, for every golden case and a few more.
func TestFieldsSorted(t *testing.T) {
	p := newParser(true, ParserNone, nil)
	for _, in := range []string{
		`<165>1 2026-11-25T03:04:05.123Z fw1 app worker ID47 [b@1 z="1" a="2"][a@1][a@1 x="y"] msg`,
		"junk", `<13>1 - - - - - -`, "<38>Nov 25 10:00:00 web01 sudo[991]: x",
	} {
		ev, _ := parseOne(p, []byte(in), time.UTC, testMeta)
		for i := 1; i < len(ev.Fields); i++ {
			if ev.Fields[i-1].Name >= ev.Fields[i].Name {
				t.Errorf("%q: fields not sorted/unique at %q, %q", in, ev.Fields[i-1].Name, ev.Fields[i].Name)
			}
		}
	}
}

// TestDaysSinceEpoch checks the civil-date arithmetic against time.Date for
// every day of years 0000 to 9999 that a timestamp can name.
func TestDaysSinceEpoch(t *testing.T) {
	for y := 0; y <= 9999; y++ {
		for m := 1; m <= 12; m++ {
			for d := 1; d <= daysIn(m, y); d++ {
				want := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400 // midnight: exact
				if got := daysSinceEpoch(y, m, d); got != want {
					t.Fatalf("%04d-%02d-%02d: %d days, want %d", y, m, d, got, want)
				}
			}
		}
	}
}
