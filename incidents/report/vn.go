package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// notAvailable is what a report prints for an optional field nobody filled.
const notAvailable = "Chưa có thông tin"

// vietnam is the zone every time in a report is printed in. Vietnam has kept
// UTC+7 without daylight saving since 1975, so the fixed zone is exact when
// the system has no tzdata.
var vietnam = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return loc
	}
	return time.FixedZone("ICT", 7*3600)
}()

// orNA returns s trimmed, or notAvailable when it is blank.
func orNA(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return notAvailable
	}
	return s
}

// vnTime formats t as dd/mm/yyyy HH:MM in Vietnam time; the zero time is
// notAvailable.
func vnTime(t time.Time) string {
	if t.IsZero() {
		return notAvailable
	}
	return t.In(vietnam).Format("02/01/2006 15:04")
}

// vnTimePtr is vnTime for an optional time.
func vnTimePtr(t *time.Time) string {
	if t == nil {
		return notAvailable
	}
	return vnTime(*t)
}

// vnDay formats t as dd/mm/yyyy in Vietnam time.
func vnDay(t time.Time) string {
	if t.IsZero() {
		return notAvailable
	}
	return t.In(vietnam).Format("02/01/2006")
}

// placeDate is the "Cà Mau, ngày 05 tháng 02 năm 2026" line. Days below 10
// and the months 1 and 2 take a leading zero, as Decree 30/2020/NĐ-CP asks of
// administrative documents.
func placeDate(place string, t time.Time) string {
	t = t.In(vietnam)
	if place = strings.TrimSpace(place); place == "" {
		place = "……"
	}
	month := fmt.Sprint(int(t.Month()))
	if t.Month() <= time.February {
		month = "0" + month
	}
	return fmt.Sprintf("%s, ngày %02d tháng %s năm %d", place, t.Day(), month, t.Year())
}

// severityVietnamese names an alert severity in reports. "Nghiêm trọng" is
// kept for the legal class of serious incidents, so critical is "Rất cao".
func severityVietnamese(s alert.Severity) string {
	switch s {
	case alert.Informational:
		return "Thông tin"
	case alert.Low:
		return "Thấp"
	case alert.Medium:
		return "Trung bình"
	case alert.High:
		return "Cao"
	case alert.Critical:
		return "Rất cao"
	}
	return "Chưa đánh giá"
}

// severities lists the severities in the order reports print them.
var severities = []alert.Severity{alert.Critical, alert.High, alert.Medium, alert.Low, alert.Informational}

// stateVietnamese names an incident state in reports.
func stateVietnamese(s incident.State) string {
	switch s {
	case incident.New:
		return "Mới phát hiện"
	case incident.Triaged:
		return "Đã phân loại"
	case incident.Investigating:
		return "Đang điều tra, xác minh"
	case incident.Contained:
		return "Đã ngăn chặn"
	case incident.Eradicated:
		return "Đã loại bỏ nguyên nhân"
	case incident.Recovered:
		return "Đã khôi phục"
	case incident.Closed:
		return "Đã kết thúc ứng phó"
	case incident.FalsePositive:
		return "Cảnh báo sai (không phải sự cố)"
	case incident.Duplicate:
		return "Trùng lặp"
	}
	return string(s)
}

// sourceVietnamese names how an incident was found.
func sourceVietnamese(s string) string {
	switch s {
	case "detection":
		return "Hệ thống giám sát phát hiện"
	case "manual":
		return "Tiếp nhận thông báo, ghi nhận thủ công"
	case "":
		return notAvailable
	}
	return s
}

// observableKindVietnamese names an observable kind.
func observableKindVietnamese(k incident.ObservableKind) string {
	switch k {
	case incident.ObsIP:
		return "Địa chỉ IP"
	case incident.ObsDomain:
		return "Tên miền"
	case incident.ObsURL:
		return "Đường dẫn (URL)"
	case incident.ObsHash:
		return "Mã băm tệp tin"
	case incident.ObsAccount:
		return "Tài khoản"
	case incident.ObsHost:
		return "Máy chủ, thiết bị"
	case incident.ObsEmail:
		return "Địa chỉ thư điện tử"
	}
	return string(k)
}

// personalDataVietnamese names a kind of personal data (incident.PersonalData).
func personalDataVietnamese(k string) string {
	switch k {
	case "basic":
		return "Dữ liệu cá nhân cơ bản"
	case "sensitive":
		return "Dữ liệu cá nhân nhạy cảm"
	case "location":
		return "Dữ liệu vị trí của cá nhân"
	case "biometric":
		return "Dữ liệu sinh trắc học"
	}
	return k
}

// pdpRoleVietnamese names the notifier's role under Law 91/2025.
func pdpRoleVietnamese(r PDPRole) string {
	switch r {
	case Controller:
		return "Bên kiểm soát dữ liệu cá nhân"
	case ControllerProcessor:
		return "Bên kiểm soát và xử lý dữ liệu cá nhân"
	case Processor:
		return "Bên xử lý dữ liệu cá nhân"
	case ThirdParty:
		return "Bên thứ ba"
	}
	return orNA(string(r))
}

// actorVietnamese prints who made a timeline entry.
func actorVietnamese(a string) string {
	switch {
	case a == "":
		return notAvailable
	case a == "system:detections":
		return "Hệ thống giám sát"
	case strings.HasPrefix(a, "system:"):
		return "Hệ thống (" + strings.TrimPrefix(a, "system:") + ")"
	case strings.HasPrefix(a, "user:"):
		return strings.TrimPrefix(a, "user:")
	}
	return a
}

// actions names the timeline actions the stores record.
var actions = map[string]string{
	"incident.open":       "Mở hồ sơ sự cố",
	"incident.update":     "Cập nhật thông tin sự cố",
	"incident.assign":     "Phân công xử lý",
	"incident.transition": "Chuyển trạng thái xử lý",
	"task.create":         "Giao nhiệm vụ",
	"task.update":         "Cập nhật nhiệm vụ",
	"task.done":           "Hoàn thành nhiệm vụ",
	"comment.create":      "Ghi chú của cán bộ xử lý",
	"observable.add":      "Bổ sung dấu hiệu nhận biết",
	"evidence.add":        "Bổ sung chứng cứ",
}

// maxDetailRunes caps one detail value in a timeline line.
const maxDetailRunes = 200

// eventText prints a timeline event: its action in Vietnamese, then its
// details in key order. A transition prints its states in Vietnamese.
func eventText(e incident.Event) string {
	text, ok := actions[e.Action]
	if !ok {
		text = orNA(e.Action)
	}
	detail := make(map[string]any, len(e.Detail))
	for k, v := range e.Detail {
		detail[k] = v
	}
	if e.Action == "incident.transition" {
		from, to := detailString(detail["from"]), detailString(detail["to"])
		if from != "" && to != "" {
			text += ": " + stateVietnamese(incident.State(from)) + " → " + stateVietnamese(incident.State(to))
			delete(detail, "from")
			delete(detail, "to")
		}
	}
	keys := make([]string, 0, len(detail))
	for k, v := range detail {
		if v == nil || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			text += " ("
		} else {
			text += "; "
		}
		text += k + ": " + clip(fmt.Sprint(detail[k]), maxDetailRunes)
	}
	if len(keys) > 0 {
		text += ")"
	}
	return text
}

// detailString prints a detail value set as a string or a string-like type
// (incident.State); other values and nil print "".
func detailString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	case incident.State:
		return string(v)
	}
	return ""
}

// clip shortens s to at most n runes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// yesNo prints a flag.
func yesNo(b bool) string {
	if b {
		return "Có"
	}
	return "Không"
}

// vnDuration prints a duration in days, hours and minutes ("1 ngày 2 giờ 5
// phút"); below a minute it prints seconds.
func vnDuration(d time.Duration) string {
	if d < 0 {
		return "-" + vnDuration(-d)
	}
	if d < time.Minute {
		return fmt.Sprintf("%d giây", int(d/time.Second))
	}
	d = d.Round(time.Minute)
	days, d := d/(24*time.Hour), d%(24*time.Hour)
	hours, mins := d/time.Hour, (d%time.Hour)/time.Minute
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d ngày", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%d giờ", hours))
	}
	if mins > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d phút", mins))
	}
	return strings.Join(parts, " ")
}

// roman writes 1–39 in Roman numerals, as Vietnamese documents number their
// parts and quarters.
func roman(n int) string {
	if n <= 0 || n >= 40 {
		return fmt.Sprint(n)
	}
	var b strings.Builder
	for _, p := range []struct {
		v int
		s string
	}{{10, "X"}, {9, "IX"}, {5, "V"}, {4, "IV"}, {1, "I"}} {
		for n >= p.v {
			b.WriteString(p.s)
			n -= p.v
		}
	}
	return b.String()
}
