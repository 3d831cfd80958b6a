package report

import (
	"testing"
	"time"

	"github.com/mangrove-soc/mangrove/incidents/incident"
)

func TestPlaceDate(t *testing.T) {
	tests := []struct {
		place string
		at    time.Time
		want  string
	}{
		{"Cà Mau", time.Date(2026, 11, 25, 10, 0, 0, 0, vietnam), "Cà Mau, ngày 25 tháng 11 năm 2026"},
		{"Cà Mau", time.Date(2026, 2, 5, 10, 0, 0, 0, vietnam), "Cà Mau, ngày 05 tháng 02 năm 2026"},
		{"Hà Nội", time.Date(2026, 3, 9, 10, 0, 0, 0, vietnam), "Hà Nội, ngày 09 tháng 3 năm 2026"},
		// 20:00 UTC on 31 Dec is already 1 Jan in Vietnam.
		{"", time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC), "……, ngày 01 tháng 01 năm 2027"},
	}
	for _, tt := range tests {
		if got := placeDate(tt.place, tt.at); got != tt.want {
			t.Errorf("placeDate(%q, %v) = %q, want %q", tt.place, tt.at, got, tt.want)
		}
	}
}

func TestVNTime(t *testing.T) {
	if got := vnTime(time.Date(2026, 11, 25, 1, 5, 0, 0, time.UTC)); got != "25/11/2026 08:05" {
		t.Errorf("vnTime = %q", got)
	}
	if got := vnTime(time.Time{}); got != notAvailable {
		t.Errorf("vnTime(zero) = %q", got)
	}
	if got := vnTimePtr(nil); got != notAvailable {
		t.Errorf("vnTimePtr(nil) = %q", got)
	}
}

func TestVNDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 giây"},
		{45 * time.Second, "45 giây"},
		{90 * time.Second, "2 phút"},
		{time.Hour, "1 giờ"},
		{25*time.Hour + 5*time.Minute, "1 ngày 1 giờ 5 phút"},
		{48 * time.Hour, "2 ngày"},
		{-time.Hour, "-1 giờ"},
	}
	for _, tt := range tests {
		if got := vnDuration(tt.d); got != tt.want {
			t.Errorf("vnDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestSmallFormatters(t *testing.T) {
	tests := []struct{ got, want string }{
		{roman(4), "IV"}, {roman(9), "IX"}, {roman(14), "XIV"}, {roman(0), "0"},
		{groupThousands(0), "0"}, {groupThousands(999), "999"}, {groupThousands(12500), "12.500"}, {groupThousands(1234567), "1.234.567"},
		{percent(1, 3), "33,3%"}, {percent(0, 0), "-"},
		{clean("a\tb\x00c\r\nd\xffe😀"), "a bc\nd\uFFFDe\uFFFD"},
		{clip("Việt Nam", 4), "Việ…"}, {clip("abc", 4), "abc"},
		{orNA("  "), notAvailable},
		{actorVietnamese("user:an"), "an"}, {actorVietnamese("system:detections"), "Hệ thống giám sát"},
		{eventText(incident.Event{Action: "incident.transition", Detail: map[string]any{"from": "new", "to": "triaged", "assignee": "an"}}),
			"Chuyển trạng thái xử lý: Mới phát hiện → Đã phân loại (assignee: an)"},
		{eventText(incident.Event{Action: "x.y"}), "x.y"},
		{eventText(incident.Event{Action: "incident.transition", Detail: map[string]any{"from": incident.Contained, "to": incident.Eradicated}}),
			"Chuyển trạng thái xử lý: Đã ngăn chặn → Đã loại bỏ nguyên nhân"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds {
		if k.Kind.Title() != k.Title || k.Title == "" {
			t.Errorf("%s: title %q", k.Kind, k.Kind.Title())
		}
		if _, ok := incidentKinds[k.Kind]; ok == k.Summary {
			t.Errorf("%s: Summary = %v but Render builds it: %v", k.Kind, k.Summary, ok)
		}
	}
	if Kind("x").Title() != "" {
		t.Error("unknown kind has a title")
	}
}
