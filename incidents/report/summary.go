package report

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// SummaryInput is everything a quarterly or annual summary report prints.
type SummaryInput struct {
	// Kind is Quarterly or Annual.
	Kind Kind `json:"kind"`
	// Summary holds the figures, from Summarize; its From is required.
	Summary Summary `json:"summary"`
	// Sender is the reporting organisation; its Name is required.
	Sender Org `json:"sender"`
	// Recipient follows "Kính gửi:"; required.
	Recipient string   `json:"recipient"`
	CC        []string `json:"cc,omitempty"`
	Number    string   `json:"number,omitempty"`
	// Period is the period label in the title ("quý IV năm 2026", "năm
	// 2026"); blank derives it from Kind and Summary.From (Vietnam time).
	Period string `json:"period,omitempty"`
	// TenantNames maps tenant IDs to the names printed; a tenant without
	// one prints its ID.
	TenantNames map[string]string `json:"tenant_names,omitempty"`
	// Assessment is the overall assessment (đánh giá chung).
	Assessment      string `json:"assessment,omitempty"`
	Recommendations string `json:"recommendations,omitempty"`
	// LegalBasis replaces the default legal basis lines when set.
	LegalBasis []string `json:"legal_basis,omitempty"`
	// GeneratedAt is the document date; required.
	GeneratedAt time.Time `json:"generated_at"`
}

// validate returns every problem with in at once.
func (in *SummaryInput) validate() error {
	var errs []error
	if in.Kind != Quarterly && in.Kind != Annual {
		errs = append(errs, fmt.Errorf("kind: %w %q (want %s or %s)", ErrUnknownKind, in.Kind, Quarterly, Annual))
	}
	if in.Summary.From.IsZero() || !in.Summary.To.After(in.Summary.From) {
		errs = append(errs, errors.New("summary: empty period (From must be set and before To)"))
	}
	if in.Sender.Name == "" {
		errs = append(errs, errors.New("sender.name: required"))
	}
	if strings.TrimSpace(in.Recipient) == "" {
		errs = append(errs, errors.New("recipient: required"))
	}
	if in.GeneratedAt.IsZero() {
		errs = append(errs, errors.New("generated_at: required"))
	}
	return errors.Join(errs...)
}

// RenderSummary writes the quarterly or annual summary report (Báo cáo
// tổng hợp tình hình sự cố an toàn thông tin) of in to w. An invalid input
// lists every problem (a wrong kind wraps ErrUnknownKind); an unknown format
// wraps ErrUnknownFormat. Nothing is written to w unless the whole document
// rendered.
func RenderSummary(w io.Writer, format Format, in SummaryInput) error {
	if err := in.validate(); err != nil {
		return fmt.Errorf("rendering summary report: %w", err)
	}
	if err := write(w, format, buildSummary(&in)); err != nil {
		return fmt.Errorf("rendering %s summary report: %w", in.Kind, err)
	}
	return nil
}

// periodLabel is "quý IV năm 2026" or "năm 2026" for the period starting at
// from.
func periodLabel(kind Kind, from time.Time) string {
	from = from.In(vietnam)
	if kind == Quarterly {
		return fmt.Sprintf("quý %s năm %d", roman((int(from.Month())-1)/3+1), from.Year())
	}
	return fmt.Sprintf("năm %d", from.Year())
}

var summaryBasis = []string{
	"Căn cứ " + lawCybersecurity + ";",
	"Căn cứ " + decree331 + ".",
}

// buildSummary lays out the summary report.
func buildSummary(in *SummaryInput) *document {
	s := &in.Summary
	basis := in.LegalBasis
	if len(basis) == 0 {
		basis = summaryBasis
	}
	d := base(in.Kind, in.Sender, strings.TrimSpace(in.Recipient), in.Number, in.CC, slices.Clone(basis), in.GeneratedAt)
	period := cmp.Or(strings.TrimSpace(in.Period), periodLabel(in.Kind, s.From))
	d.Title = strings.ToUpper("Báo cáo tổng hợp tình hình sự cố an toàn thông tin " + period)
	last := s.To.Add(-time.Nanosecond)
	d.Subtitle = "(Số liệu từ ngày " + vnDay(s.From) + " đến hết ngày " + vnDay(last) + ")"
	d.MetaTitle = "Báo cáo tổng hợp tình hình sự cố an toàn thông tin " + period
	b := &builder{doc: d}
	o := &s.Overall

	b.para(in.Sender.Name + " báo cáo tổng hợp tình hình sự cố an toàn thông tin " + period + " như sau:")
	b.part("Tình hình chung")
	closed := o.ByState[incident.Closed]
	b.para(fmt.Sprintf("Trong kỳ báo cáo, hệ thống ghi nhận và xử lý tổng cộng %d sự cố, trong đó %d trường hợp được xác định là cảnh báo sai hoặc trùng lặp; %d sự cố đã kết thúc ứng phó; %d sự cố đang được xử lý.",
		o.Total, o.Dismissed, closed, o.Total-o.Dismissed-closed))
	b.fields(
		field{"Tổng số sự cố được ghi nhận", strconv.Itoa(o.Total)},
		field{"Sự cố mức độ cao và rất cao", strconv.Itoa(o.BySeverity[alert.High] + o.BySeverity[alert.Critical])},
		field{"Cảnh báo sai, trùng lặp", strconv.Itoa(o.Dismissed)},
		field{"Sự cố đã kết thúc ứng phó", strconv.Itoa(closed)},
		field{"Số đơn vị có sự cố", strconv.Itoa(len(s.Tenants))},
	)

	b.part("Thống kê theo loại sự cố")
	var cats []countRow
	for _, c := range incident.Categories {
		cats = append(cats, countRow{c.Vietnamese, o.ByCategory[c.Category]})
	}
	if n := o.ByCategory[incident.Uncategorized]; n > 0 {
		cats = append(cats, countRow{incident.Uncategorized.Vietnamese(), n})
	}
	b.table(countTable("Loại sự cố", cats, o.Total))

	b.part("Thống kê theo mức độ")
	var sevs []countRow
	for _, v := range severities {
		sevs = append(sevs, countRow{severityVietnamese(v), o.BySeverity[v]})
	}
	unrated := o.Total
	for _, v := range severities {
		unrated -= o.BySeverity[v]
	}
	if unrated > 0 {
		sevs = append(sevs, countRow{severityVietnamese(0), unrated})
	}
	b.table(countTable("Mức độ", sevs, o.Total))

	b.part("Thống kê theo trạng thái xử lý")
	var states []countRow
	for _, st := range incident.States {
		states = append(states, countRow{stateVietnamese(st), o.ByState[st]})
	}
	b.table(countTable("Trạng thái", states, o.Total))

	b.part("Thống kê theo nguồn phát hiện")
	sources := make([]string, 0, len(o.BySource))
	for k := range o.BySource {
		sources = append(sources, k)
	}
	sort.Slice(sources, func(i, j int) bool {
		ri, rj := sourceRank(sources[i]), sourceRank(sources[j])
		if ri != rj {
			return ri < rj
		}
		return sources[i] < sources[j]
	})
	var src []countRow
	for _, k := range sources {
		src = append(src, countRow{sourceVietnamese(k), o.BySource[k]})
	}
	b.table(countTable("Nguồn phát hiện", src, o.Total))

	b.part("Thời gian tiếp nhận, ngăn chặn và khắc phục sự cố")
	b.para("Thời gian được tính từ thời điểm phát hiện sự cố; không tính các trường hợp cảnh báo sai, trùng lặp và các sự cố chưa đến giai đoạn tương ứng. Giá trị P90 là thời gian mà 90% số sự cố không vượt quá.")
	b.table(durationsTable(o))

	b.part("Tình hình sự cố theo đơn vị")
	t := &table{
		Columns: []column{{"STT", 0.6}, {"Đơn vị", 3}, {"Tổng số", 1.1}, {"Cao, rất cao", 1.2}, {"Cảnh báo sai, trùng lặp", 1.4}, {"Đã kết thúc", 1.2}, {"Thời gian khắc phục (trung vị)", 1.8}},
		Empty:   "Không có sự cố trong kỳ báo cáo",
	}
	for i, ts := range s.Tenants {
		name := cmp.Or(strings.TrimSpace(in.TenantNames[ts.Tenant]), ts.Tenant, notAvailable)
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), name, strconv.Itoa(ts.Total),
			strconv.Itoa(ts.BySeverity[alert.High] + ts.BySeverity[alert.Critical]), strconv.Itoa(ts.Dismissed),
			strconv.Itoa(ts.ByState[incident.Closed]), durationCell(ts.MTTR, ts.MTTR.Median)})
	}
	b.table(t)

	b.part("Đánh giá chung")
	b.para(in.Assessment)
	b.part("Đề xuất, kiến nghị")
	b.para(in.Recommendations)
	return d
}

// countRow is one line of a count table.
type countRow struct {
	label string
	n     int
}

// countTable prints counts with their share of total and a total line.
func countTable(title string, rows []countRow, total int) *table {
	t := &table{Columns: []column{{"STT", 0.6}, {title, 4}, {"Số lượng", 1.4}, {"Tỷ lệ", 1.4}}}
	sum := 0
	for i, r := range rows {
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), r.label, strconv.Itoa(r.n), percent(r.n, total)})
		sum += r.n
	}
	t.Rows = append(t.Rows, []string{"", "Tổng cộng", strconv.Itoa(sum), percent(sum, total)})
	return t
}

// percent prints n/total with one decimal and a decimal comma ("12,5%").
func percent(n, total int) string {
	if total == 0 {
		return "-"
	}
	return strings.Replace(strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64), ".", ",", 1) + "%"
}

// durationsTable prints MTTA, MTTC and MTTR.
func durationsTable(s *Stats) *table {
	t := &table{Columns: []column{{"Chỉ số", 3}, {"Trung vị", 1.5}, {"Trung bình", 1.5}, {"P90", 1.5}, {"Số sự cố làm căn cứ", 1.3}}}
	for _, r := range []struct {
		name string
		d    Durations
	}{
		{"Thời gian tiếp nhận xử lý (MTTA)", s.MTTA},
		{"Thời gian ngăn chặn (MTTC)", s.MTTC},
		{"Thời gian khắc phục (MTTR)", s.MTTR},
	} {
		t.Rows = append(t.Rows, []string{r.name, durationCell(r.d, r.d.Median), durationCell(r.d, r.d.Mean),
			durationCell(r.d, r.d.P90), strconv.Itoa(r.d.N)})
	}
	return t
}

// durationCell prints v, or that there is no data when d is based on no
// incident.
func durationCell(d Durations, v time.Duration) string {
	if d.N == 0 {
		return "Chưa có dữ liệu"
	}
	return vnDuration(v)
}

// sourceRank orders the known sources first.
func sourceRank(s string) int {
	switch s {
	case "detection":
		return 0
	case "manual":
		return 1
	}
	return 2
}
