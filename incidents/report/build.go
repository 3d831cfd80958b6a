package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// Legal texts as the reports cite them.
const (
	lawCybersecurity = "Luật An ninh mạng số 116/2025/QH15 ngày 10 tháng 12 năm 2025"
	lawPDP           = "Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15 ngày 26 tháng 6 năm 2025"
	decree331        = "Nghị định số 331/2026/NĐ-CP ngày 19 tháng 8 năm 2026 của Chính phủ quy định về bảo vệ an ninh mạng đối với hệ thống thông tin"
	decree356        = "Nghị định số 356/2025/NĐ-CP ngày 31 tháng 12 năm 2025 của Chính phủ quy định chi tiết Luật Bảo vệ dữ liệu cá nhân"
	decision05       = "Quyết định số 05/2017/QĐ-TTg ngày 16 tháng 3 năm 2017 của Thủ tướng Chính phủ ban hành quy định về hệ thống phương án ứng cứu khẩn cấp bảo đảm an toàn thông tin mạng quốc gia"
	circular20       = "Thông tư số 20/2017/TT-BTTTT ngày 12 tháng 9 năm 2017 của Bộ trưởng Bộ Thông tin và Truyền thông quy định về điều phối, ứng cứu sự cố an toàn thông tin mạng trên toàn quốc"
	art31            = "điểm d khoản 2 Điều 31 " + decree331
)

// defaultBasis are the legal basis lines of each kind.
var defaultBasis = map[Kind][]string{
	Notice: {
		"Căn cứ " + lawCybersecurity + ";",
		"Căn cứ " + art31 + ";",
		"Căn cứ điểm a khoản 3 Điều 9 " + circular20 + ".",
	},
	Initial: {
		"Căn cứ " + lawCybersecurity + ";",
		"Căn cứ " + art31 + ";",
		"Căn cứ khoản 4 Điều 11 " + decision05 + ".",
	},
	Report72h: {
		"Căn cứ " + lawCybersecurity + ";",
		"Căn cứ " + art31 + ".",
	},
	Closing: {
		"Căn cứ " + lawCybersecurity + ";",
		"Căn cứ " + art31 + ";",
		"Căn cứ Điều 11 " + decision05 + ".",
	},
	PDPBreachNotice: {
		"Căn cứ khoản 1 Điều 23 " + lawPDP + ";",
		"Căn cứ Điều 28 và Điều 29 " + decree356 + ".",
	},
}

// forms are the form labels printed in the top right corner.
var forms = map[Kind]string{
	Initial:         "Mẫu số 03 (Quyết định số 05/2017/QĐ-TTg)",
	Closing:         "Mẫu số 04 (Quyết định số 05/2017/QĐ-TTg)",
	PDPBreachNotice: "Mẫu số 08 (Nghị định số 356/2025/NĐ-CP)",
}

// base fills what every document of an organisation has: heading, date,
// recipient, signature and "Nơi nhận".
func base(kind Kind, sender Org, recipient, number string, cc, basis []string, at time.Time) *document {
	d := &document{
		Form:       forms[kind],
		Parent:     strings.ToUpper(strings.TrimSpace(sender.Parent)),
		Sender:     strings.ToUpper(strings.TrimSpace(sender.Name)),
		Number:     "Số: " + cmp.Or(strings.TrimSpace(number), "……/……"),
		PlaceDate:  placeDate(sender.Province, at),
		Title:      strings.ToUpper(kind.Title()),
		Recipients: []string{recipient},
		Basis:      basis,
		SignerTitle: strings.ToUpper(cmp.Or(strings.TrimSpace(sender.Signer.Title),
			"Thủ trưởng cơ quan, đơn vị")),
		SignerName: strings.TrimSpace(sender.Signer.Name),
		SignNote:   "(Ký, ghi rõ họ tên, đóng dấu)",
		Author:     sender.Name,
		MetaTitle:  kind.Title(),
		Date:       at,
	}
	d.CC = append(d.CC, "Như trên;")
	for _, c := range cc {
		if c = strings.TrimSpace(c); c != "" {
			d.CC = append(d.CC, strings.TrimRight(c, ";.")+";")
		}
	}
	d.CC = append(d.CC, "Lưu: VT.")
	return d
}

// start builds the common top of an incident document.
func start(kind Kind, in *Input) (*document, *builder) {
	recipient := cmp.Or(strings.TrimSpace(in.Recipient), defaultIncidentRecipient)
	if kind == PDPBreachNotice {
		recipient = cmp.Or(strings.TrimSpace(in.Breach.Recipient), defaultPDPRecipient)
	}
	basis := in.LegalBasis
	if len(basis) == 0 {
		basis = defaultBasis[kind]
	}
	d := base(kind, in.Sender, recipient, in.Number, in.CC, slices.Clone(basis), in.GeneratedAt)
	d.Subtitle = "Về sự cố: " + orNA(in.Incident.Title) + " (mã " + in.Incident.ID + ")"
	d.MetaTitle += " - " + in.Incident.ID
	return d, &builder{doc: d}
}

// senderFields are the notifier's name, address and channels.
func senderFields(o Org) []field {
	return []field{
		{"Tên cơ quan, đơn vị", o.Name},
		{"Địa chỉ", o.Address},
		{"Điện thoại", o.Phone},
		{"Thư điện tử", o.Email},
	}
}

// contactFields are the contact person's details.
func contactFields(p Person) []field {
	return []field{
		{"Họ và tên", p.Name},
		{"Chức vụ", p.Title},
		{"Điện thoại", p.Phone},
		{"Thư điện tử", p.Email},
	}
}

// legalClass prints the incident's class under Decree 331/2026 Art. 31(2)(d).
func legalClass(inc *incident.Incident) string {
	var signs []string
	if inc.NationalSecurity {
		signs = append(signs, "có dấu hiệu xâm phạm an ninh quốc gia, trật tự, an toàn xã hội")
	}
	if inc.SeriousDisruption {
		signs = append(signs, "gây gián đoạn nghiêm trọng hoạt động của hệ thống")
	}
	class := "Sự cố thông thường"
	if inc.Serious {
		class = "Sự cố nghiêm trọng"
	}
	if len(signs) > 0 {
		class += "; " + strings.Join(signs, "; ")
	}
	return class
}

// deadline prints when the report of kind is due: Decree 331/2026 Art.
// 31(2)(d) for serious incidents and the 72-hour report, Law 91/2025 Art.
// 23(1) for personal data, and the TT 20/2017 Art. 9(2) periods for ordinary
// incidents and the closing report.
func deadline(kind Kind, inc *incident.Incident) string {
	const (
		d331 = " (điểm d khoản 2 Điều 31 Nghị định số 331/2026/NĐ-CP)"
		tt20 = " khoản 2 Điều 9 Thông tư số 20/2017/TT-BTTTT)"
	)
	if kind == Closing {
		end := inc.RecoveredAt
		if end == nil {
			end = inc.ClosedAt
		}
		if end == nil {
			return "05 ngày kể từ khi kết thúc ứng phó sự cố (điểm b" + tt20
		}
		return "05 ngày kể từ khi kết thúc ứng phó sự cố, đến " + vnTime(end.Add(5*24*time.Hour)) + " (điểm b" + tt20
	}
	if inc.DetectedAt.IsZero() {
		return notAvailable
	}
	switch kind {
	case PDPBreachNotice:
		return "72 giờ kể từ khi phát hiện, đến " + vnTime(inc.DetectedAt.Add(72*time.Hour)) +
			" (khoản 1 Điều 23 Luật Bảo vệ dữ liệu cá nhân)"
	case Report72h:
		return "72 giờ kể từ khi phát hiện, đến " + vnTime(inc.DetectedAt.Add(72*time.Hour)) + d331
	}
	switch {
	case inc.NationalSecurity || inc.SeriousDisruption:
		return "Ngay khi phát hiện" + d331
	case inc.Serious:
		return "24 giờ kể từ khi phát hiện, đến " + vnTime(inc.DetectedAt.Add(24*time.Hour)) + d331
	}
	return "05 ngày kể từ khi phát hiện, đến " + vnTime(inc.DetectedAt.Add(5*24*time.Hour)) + " (điểm a" + tt20
}

// incidentFields describe the incident itself.
func incidentFields(kind Kind, inc *incident.Incident) []field {
	source := sourceVietnamese(inc.Source)
	if inc.RuleID != "" {
		source += " (quy tắc " + inc.RuleID + ")"
	}
	return []field{
		{"Mã sự cố", inc.ID},
		{"Tên sự cố", inc.Title},
		{"Loại sự cố", inc.Category.Vietnamese()},
		{"Mức độ", severityVietnamese(inc.Severity)},
		{"Phân loại theo quy định", legalClass(inc)},
		{"Thời hạn báo cáo", deadline(kind, inc)},
		{"Nguồn phát hiện", source},
		{"Thời điểm bắt đầu ghi nhận dấu hiệu", vnTime(inc.FirstSeen)},
		{"Thời điểm phát hiện", vnTime(inc.DetectedAt)},
		{"Trạng thái xử lý", stateVietnamese(inc.State)},
		{"Kỹ thuật tấn công (MITRE ATT&CK)", strings.Join(inc.Techniques, ", ")},
		{"Số cảnh báo liên quan", strconv.Itoa(inc.AlertCount)},
	}
}

// systemsTable lists the affected systems with their level.
func systemsTable(in *Input) *table {
	t := &table{
		Columns: []column{{"STT", 0.6}, {"Tên hệ thống thông tin", 3}, {"Cấp độ", 1}, {"Tên miền, địa chỉ IP", 2.6}, {"HTTT quan trọng về ANQG", 1.6}},
		Empty:   "Chưa xác định hệ thống bị ảnh hưởng",
	}
	for i, s := range in.Incident.Systems {
		level := notAvailable
		if s.Level >= 1 && s.Level <= 5 {
			level = "Cấp độ " + strconv.Itoa(s.Level)
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), orNA(s.Name), level,
			orNA(in.SystemAddresses[s.ID]), yesNo(s.NationalSecurity)})
	}
	return t
}

// observablesTable lists the indicators.
func observablesTable(in *Input) *table {
	t := &table{
		Columns: []column{{"STT", 0.6}, {"Loại", 1.8}, {"Giá trị", 3.6}, {"Ghi chú", 2.8}},
		Empty:   "Chưa ghi nhận dấu hiệu nhận biết",
	}
	for i, o := range in.Observables {
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), observableKindVietnamese(o.Kind), orNA(o.Value), o.Note})
	}
	return t
}

// timelineTable lists the events and comments in time order.
func timelineTable(in *Input) *table {
	type line struct {
		at          time.Time
		actor, text string
	}
	lines := make([]line, 0, len(in.Timeline)+len(in.Comments))
	for _, e := range in.Timeline {
		lines = append(lines, line{e.Time, actorVietnamese(e.Actor), eventText(e)})
	}
	for _, c := range in.Comments {
		lines = append(lines, line{c.Created, actorVietnamese(c.Author), "Ghi chú: " + orNA(c.Body)})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	t := &table{
		Columns: []column{{"STT", 0.6}, {"Thời gian", 1.7}, {"Người thực hiện", 1.8}, {"Nội dung", 4.7}},
		Empty:   "Chưa có diễn biến được ghi nhận",
	}
	for i, l := range lines {
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), vnTime(l.at), l.actor, l.text})
	}
	return t
}

// tasksTable lists the response tasks; an open task past its due time at
// GeneratedAt is overdue.
func tasksTable(in *Input) *table {
	t := &table{
		Columns: []column{{"STT", 0.6}, {"Nhiệm vụ", 3.6}, {"Người phụ trách", 1.8}, {"Thời hạn", 1.7}, {"Tình trạng", 1.5}},
		Empty:   "Chưa giao nhiệm vụ",
	}
	for i, k := range in.Tasks {
		status := "Đang thực hiện"
		switch {
		case k.Done:
			status = "Đã hoàn thành"
		case k.Due != nil && k.Due.Before(in.GeneratedAt):
			status = "Quá hạn"
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), orNA(k.Title), orNA(k.Owner), vnTimePtr(k.Due), status})
	}
	return t
}

// supportersTable lists who helped and with what result.
func supportersTable(in *Input) *table {
	t := &table{
		Columns: []column{{"STT", 0.6}, {"Tổ chức, đơn vị hỗ trợ", 2.8}, {"Nội dung hỗ trợ", 2.8}, {"Kết quả", 2.6}},
		Empty:   "Không có tổ chức, đơn vị hỗ trợ",
	}
	for i, s := range in.Supporters {
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), orNA(s.Name), orNA(s.Support), orNA(s.Result)})
	}
	return t
}

// operator is the operating unit, or the sender when none is given.
func operator(in *Input) string { return cmp.Or(strings.TrimSpace(in.Operator), in.Sender.Name) }

// symptoms is what was seen, or the incident description.
func symptoms(in *Input) string {
	return cmp.Or(strings.TrimSpace(in.Symptoms), strings.TrimSpace(in.Incident.Description))
}

// systemsPart is the affected-systems part shared by the incident kinds.
func systemsPart(b *builder, in *Input, title string) {
	b.part(title)
	b.table(systemsTable(in))
	b.fields(
		field{"Đơn vị vận hành", operator(in)},
		field{"Cơ quan, đơn vị chủ quản", in.Owner},
		field{"Nhà cung cấp dịch vụ hạ tầng CNTT, viễn thông", in.InfraProvider},
	)
}

// tail adds the observables and timeline parts every kind ends with.
func tail(b *builder, in *Input) {
	b.part("Dấu hiệu nhận biết (IOC)")
	b.table(observablesTable(in))
	b.part("Diễn biến sự cố và quá trình xử lý")
	b.table(timelineTable(in))
}

func intro(b *builder, in *Input, what string) {
	b.para(in.Sender.Name + " " + what + " như sau:")
}

// buildNotice: TT 20/2017 Art. 9(3)(a).
func buildNotice(in *Input) *document {
	d, b := start(Notice, in)
	intro(b, in, "thông báo sự cố an toàn thông tin mạng")
	b.part("Thông tin đơn vị thông báo sự cố")
	b.fields(senderFields(in.Sender)...)
	b.item("Người liên hệ")
	b.fields(contactFields(in.Sender.Contact)...)
	systemsPart(b, in, "Hệ thống thông tin bị sự cố")
	b.part("Mô tả sự cố")
	b.fields(incidentFields(Notice, &in.Incident)...)
	b.item("Mô tả sơ bộ")
	b.para(symptoms(in))
	b.part("Kết quả xử lý ban đầu")
	b.item("Biện pháp đã triển khai")
	b.para(in.Measures)
	b.item("Kết quả")
	b.para(in.Result)
	b.part("Đề xuất, kiến nghị")
	b.para(in.Recommendations)
	b.part("Thông tin khác")
	b.para(in.OtherInfo)
	tail(b, in)
	return d
}

// buildInitial: Form 03, QĐ 05/2017 Art. 11(4).
func buildInitial(in *Input) *document {
	d, b := start(Initial, in)
	intro(b, in, "báo cáo ban đầu về sự cố an toàn thông tin mạng")
	b.part("Thông tin về đơn vị vận hành hệ thống thông tin")
	b.fields(
		field{"Tên đơn vị vận hành", operator(in)},
		field{"Địa chỉ", in.Sender.Address},
		field{"Cơ quan, đơn vị chủ quản", in.Owner},
		field{"Điện thoại", in.Sender.Phone},
		field{"Thư điện tử", in.Sender.Email},
	)
	b.part("Thông tin người liên hệ")
	b.fields(contactFields(in.Sender.Contact)...)
	systemsPart(b, in, "Hệ thống thông tin bị sự cố")
	b.part("Thông tin về sự cố")
	b.fields(incidentFields(Initial, &in.Incident)...)
	b.item("Mô tả sơ bộ, dấu hiệu của sự cố")
	b.para(symptoms(in))
	b.item("Đánh giá ban đầu về thiệt hại, mức độ lan rộng và ảnh hưởng đến hoạt động")
	b.para(in.Impact)
	b.part("Biện pháp đã triển khai hoặc dự kiến triển khai")
	b.item("Biện pháp đã triển khai")
	b.para(in.Measures)
	b.item("Biện pháp dự kiến triển khai")
	b.para(in.PlannedMeasures)
	b.part("Tổ chức, đơn vị tham gia hỗ trợ và kết quả")
	b.table(supportersTable(in))
	b.part("Kết quả ứng cứu ban đầu")
	b.para(in.Result)
	b.part("Đề xuất, kiến nghị")
	b.para(in.Recommendations)
	tail(b, in)
	return d
}

// build72h: Decree 331/2026 Art. 31(2)(d), cause, scope and remediation.
func build72h(in *Input) *document {
	d, b := start(Report72h, in)
	intro(b, in, "báo cáo nguyên nhân, phạm vi ảnh hưởng và biện pháp khắc phục sự cố")
	b.part("Thông tin chung")
	b.item("Cơ quan, đơn vị báo cáo")
	b.fields(senderFields(in.Sender)...)
	b.item("Người liên hệ")
	b.fields(contactFields(in.Sender.Contact)...)
	b.item("Thông tin sự cố")
	b.fields(incidentFields(Report72h, &in.Incident)...)
	systemsPart(b, in, "Hệ thống thông tin bị ảnh hưởng")
	b.part("Nguyên nhân sự cố")
	b.para(in.Cause)
	b.part("Phạm vi, mức độ ảnh hưởng")
	b.para(in.Impact)
	b.fields(
		field{"Khoảng thời gian ghi nhận dấu hiệu", timeRange(in.Incident.FirstSeen, in.Incident.LastSeen)},
		field{"Dữ liệu cá nhân liên quan", personalData(in.Incident.PersonalData)},
	)
	b.part("Biện pháp khắc phục")
	b.item("Biện pháp đã thực hiện")
	b.para(in.Measures)
	b.item("Kết quả khắc phục")
	b.para(in.Result)
	b.item("Biện pháp tiếp theo")
	b.para(in.PlannedMeasures)
	b.item("Nhiệm vụ đang triển khai")
	b.table(tasksTable(in))
	b.part("Đề xuất, kiến nghị")
	b.para(in.Recommendations)
	tail(b, in)
	return d
}

// buildClosing: Form 04, closing report.
func buildClosing(in *Input) *document {
	d, b := start(Closing, in)
	inc := &in.Incident
	intro(b, in, "báo cáo kết thúc ứng phó sự cố an toàn thông tin mạng")
	b.part("Thông tin chung")
	b.item("Cơ quan, đơn vị báo cáo")
	b.fields(senderFields(in.Sender)...)
	b.item("Người liên hệ")
	b.fields(contactFields(in.Sender.Contact)...)
	b.item("Thông tin sự cố")
	b.fields(incidentFields(Closing, inc)...)
	systemsPart(b, in, "Hệ thống thông tin bị sự cố")
	b.part("Tóm tắt sự cố và quá trình ứng phó")
	b.para(symptoms(in))
	end := inc.ClosedAt
	if end == nil {
		end = inc.RecoveredAt
	}
	total := notAvailable
	if end != nil && !inc.DetectedAt.IsZero() && !end.Before(inc.DetectedAt) {
		total = vnDuration(end.Sub(inc.DetectedAt))
	}
	b.fields(
		field{"Thời điểm phát hiện", vnTime(inc.DetectedAt)},
		field{"Thời điểm tiếp nhận xử lý", vnTimePtr(inc.AcknowledgedAt)},
		field{"Thời điểm ngăn chặn được sự cố", vnTimePtr(inc.ContainedAt)},
		field{"Thời điểm khôi phục hoạt động", vnTimePtr(inc.RecoveredAt)},
		field{"Thời điểm kết thúc ứng phó", vnTimePtr(inc.ClosedAt)},
		field{"Tổng thời gian ứng phó", total},
	)
	b.part("Nguyên nhân sự cố")
	b.para(in.Cause)
	b.part("Thiệt hại, ảnh hưởng của sự cố")
	b.para(in.Impact)
	b.fields(field{"Dữ liệu cá nhân liên quan", personalData(inc.PersonalData)})
	b.part("Biện pháp đã thực hiện và kết quả ứng phó")
	b.item("Biện pháp đã thực hiện")
	b.para(in.Measures)
	b.item("Kết quả ứng phó")
	b.para(in.Result)
	b.item("Tổ chức, đơn vị tham gia hỗ trợ")
	b.table(supportersTable(in))
	b.item("Nhiệm vụ đã giao")
	b.table(tasksTable(in))
	b.part("Bài học kinh nghiệm")
	b.para(in.Lessons)
	b.part("Đề xuất, kiến nghị")
	b.para(in.Recommendations)
	tail(b, in)
	return d
}

// buildPDPBreach: Form 08 of Decree 356/2025, content of Art. 28(1).
func buildPDPBreach(in *Input) *document {
	d, b := start(PDPBreachNotice, in)
	inc, br := &in.Incident, &in.Breach
	intro(b, in, "thông báo vi phạm quy định về bảo vệ dữ liệu cá nhân")
	b.part("Thông tin bên thông báo")
	b.fields(append(senderFields(in.Sender), field{"Tư cách", pdpRoleVietnamese(br.Role)})...)
	b.part("Mô tả tính chất của hành vi vi phạm")
	categories := personalData(inc.PersonalData)
	if s := strings.TrimSpace(br.Categories); s != "" {
		if len(inc.PersonalData) > 0 {
			categories += ": " + s
		} else {
			categories = s
		}
	}
	b.fields(
		field{"Thời gian xảy ra vi phạm", vnTimePtr(br.OccurredAt)},
		field{"Thời điểm phát hiện", vnTime(inc.DetectedAt)},
		field{"Địa điểm", br.Place},
		field{"Hành vi vi phạm", cmp.Or(strings.TrimSpace(br.Act), symptoms(in))},
		field{"Tổ chức, cá nhân liên quan", br.Actors},
		field{"Loại dữ liệu cá nhân liên quan", categories},
		field{"Số lượng chủ thể dữ liệu", count(br.SubjectCount)},
		field{"Số lượng bản ghi dữ liệu", count(br.RecordCount)},
		field{"Mã sự cố an ninh mạng liên quan", inc.ID},
		field{"Thời hạn thông báo", deadline(PDPBreachNotice, inc)},
	)
	b.part("Thông tin liên hệ của bộ phận, nhân sự bảo vệ dữ liệu cá nhân")
	b.fields(append([]field{{"Bộ phận bảo vệ dữ liệu cá nhân hoặc tổ chức cung cấp dịch vụ bảo vệ dữ liệu cá nhân", br.Unit}},
		contactFields(br.Officer)...)...)
	b.part("Hậu quả, thiệt hại có thể xảy ra")
	b.para(cmp.Or(strings.TrimSpace(br.Consequences), strings.TrimSpace(in.Impact)))
	b.part("Biện pháp đã triển khai để giải quyết, giảm thiểu tác hại")
	b.para(in.Measures)
	if s := strings.TrimSpace(in.PlannedMeasures); s != "" {
		b.item("Biện pháp dự kiến triển khai")
		b.para(s)
	}
	b.part("Thông tin khác")
	notify := "Không bắt buộc (không liên quan dữ liệu vị trí, sinh trắc học)"
	if slices.Contains(inc.PersonalData, "location") || slices.Contains(inc.PersonalData, "biometric") {
		notify = "Bắt buộc thông báo cho chủ thể dữ liệu trong 72 giờ kể từ khi phát hiện (Điều 29 Nghị định số 356/2025/NĐ-CP); "
		if br.SubjectsNotifiedAt != nil {
			notify += "đã thông báo lúc " + vnTimePtr(br.SubjectsNotifiedAt)
		} else {
			notify += "chưa thông báo"
		}
	}
	fs := []field{
		{"Biên bản xác nhận vi phạm", br.MinutesRef},
		{"Thông báo cho chủ thể dữ liệu", notify},
	}
	if !inc.DetectedAt.IsZero() && in.GeneratedAt.Sub(inc.DetectedAt) > 72*time.Hour {
		fs = append(fs, field{"Lý do thông báo quá thời hạn 72 giờ", br.DelayReason})
	}
	fs = append(fs, field{"Thông tin khác", in.OtherInfo})
	b.fields(fs...)
	systemsPart(b, in, "Hệ thống thông tin liên quan")
	tail(b, in)
	return d
}

// personalDataNames names the kinds of personal data.
func personalDataNames(kinds []string) []string {
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, personalDataVietnamese(k))
	}
	return out
}

// personalData prints the kinds of personal data, or that none is involved.
func personalData(kinds []string) string {
	if len(kinds) == 0 {
		return "Không ghi nhận dữ liệu cá nhân liên quan"
	}
	return strings.Join(personalDataNames(kinds), ", ")
}

// count prints a volume; 0 is unknown.
func count(n int) string {
	if n <= 0 {
		return notAvailable
	}
	return groupThousands(n)
}

// groupThousands writes n with dots between thousands, the Vietnamese way.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// timeRange prints "from – to" in Vietnam time.
func timeRange(from, to time.Time) string {
	switch {
	case from.IsZero() && to.IsZero():
		return notAvailable
	case to.IsZero() || to.Equal(from):
		return vnTime(from)
	}
	return fmt.Sprintf("%s – %s", vnTime(from), vnTime(to))
}
