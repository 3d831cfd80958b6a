package sigma

import (
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// timePart is the part of a timestamp a time modifier compares.
type timePart uint8

const (
	tpMinute timePart = iota
	tpHour
	tpDay
	tpWeek
	tpMonth
	tpYear
)

var timeParts = map[string]timePart{"minute": tpMinute, "hour": tpHour, "day": tpDay, "week": tpWeek, "month": tpMonth, "year": tpYear}

// timeLayouts are the timestamp texts a time modifier reads: RFC 3339 (with
// T or a space) with or without fractions and zone, and a bare date.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// of extracts the part from an event value holding a timestamp, as written
// (in the timestamp's own offset: the specification converts no time
// zones). A number is read as Unix seconds, in UTC. week is the ISO week.
func (p timePart) of(h *hay) (int, bool) {
	var t time.Time
	switch h.kind {
	case event.Number:
		if h.num < 0 || h.num > 1e11 {
			return 0, false
		}
		t = time.Unix(int64(h.num), 0).UTC()
	case event.String:
		s := strings.TrimSpace(h.text)
		if len(s) < 10 || len(s) > 40 {
			return 0, false
		}
		ok := false
		for _, l := range timeLayouts {
			var err error
			if t, err = time.Parse(l, s); err == nil {
				ok = true
				break
			}
		}
		if !ok {
			return 0, false
		}
	default:
		return 0, false
	}
	switch p {
	case tpMinute:
		return t.Minute(), true
	case tpHour:
		return t.Hour(), true
	case tpDay:
		return t.Day(), true
	case tpWeek:
		_, w := t.ISOWeek()
		return w, true
	case tpMonth:
		return int(t.Month()), true
	default:
		return t.Year(), true
	}
}
