package report

import (
	"bytes"
	"compress/zlib"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/mangrove-soc/mangrove/detections/alert"
	"github.com/mangrove-soc/mangrove/incidents/incident"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// at is a time in Vietnam.
func at(day, hour, minute int) time.Time {
	return time.Date(2026, time.November, day, hour, minute, 0, 0, vietnam)
}

func ptr(t time.Time) *time.Time { return &t }

// richInput is a fixed input that fills every field.
func richInput() Input {
	return Input{
		Incident: incident.Incident{
			ID:          "INC-7f3a9c01d2e4b5a6",
			Tenant:      "camau-portal",
			Title:       "Tấn công thay đổi giao diện Cổng thông tin điện tử tỉnh",
			Description: "Trang chủ cổng thông tin bị thay nội dung lúc 08:05; xuất hiện tệp webshell trong thư mục tải lên.",
			Source:      "detection",
			RuleID:      "web-defacement-001",
			Category:    incident.Defacement,
			Severity:    alert.Critical,
			Priority:    20,
			State:       incident.Closed,
			Assignee:    "nguyen.van.an",
			Team:        "Đội ứng cứu sự cố tỉnh",
			Systems: []incident.System{
				{ID: "sys-portal", Name: "Cổng thông tin điện tử tỉnh Cà Mau", Level: 3},
				{ID: "sys-dvc", Name: "Hệ thống thông tin giải quyết thủ tục hành chính", Level: 4, NationalSecurity: true},
			},
			Techniques:        []string{"T1491.002", "T1190", "T1505.003"},
			AlertCount:        17,
			Serious:           true,
			SeriousDisruption: false,
			PersonalData:      []string{"basic", "location"},
			ReportedBy:        "system:detections",
			FirstSeen:         at(23, 7, 58),
			LastSeen:          at(23, 9, 40),
			DetectedAt:        at(23, 8, 15),
			AcknowledgedAt:    ptr(at(23, 8, 27)),
			ContainedAt:       ptr(at(23, 10, 5)),
			RecoveredAt:       ptr(at(23, 16, 30)),
			ClosedAt:          ptr(at(25, 9, 0)),
			Created:           at(23, 8, 15),
			Updated:           at(25, 9, 0),
			Version:           12,
		},
		Observables: []incident.Observable{
			{ID: "o1", Kind: incident.ObsIP, Value: "203.0.113.45", Note: "Nguồn tải webshell"},
			{ID: "o2", Kind: incident.ObsURL, Value: "https://portal.camau.gov.vn/uploads/x.php?cmd=id", Note: "Webshell"},
			{ID: "o3", Kind: incident.ObsHash, Value: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		},
		Tasks: []incident.Task{
			{ID: "t1", Title: "Cô lập máy chủ web khỏi mạng", Owner: "tran.thi.binh", Due: ptr(at(23, 10, 0)), Done: true},
			{ID: "t2", Title: "Rà soát toàn bộ mã nguồn cổng thông tin", Owner: "le.van.cuong", Due: ptr(at(24, 17, 0))},
			{ID: "t3", Title: "Cập nhật bản vá cho CMS", Owner: "le.van.cuong", Due: ptr(at(28, 17, 0))},
		},
		Timeline: []incident.Event{
			{Time: at(23, 8, 15), Actor: "system:detections", Action: "incident.open", Detail: map[string]any{"rule_id": "web-defacement-001", "alert_id": "A-1"}},
			{Time: at(23, 8, 27), Actor: "user:nguyen.van.an", Action: "incident.transition", Detail: map[string]any{"from": "new", "to": "triaged", "assignee": "nguyen.van.an"}},
			{Time: at(23, 10, 5), Actor: "user:tran.thi.binh", Action: "incident.transition", Detail: map[string]any{"from": "investigating", "to": "contained"}},
			{Time: at(23, 16, 30), Actor: "user:tran.thi.binh", Action: "incident.transition", Detail: map[string]any{"from": "eradicated", "to": "recovered"}},
		},
		Comments: []incident.Comment{
			{ID: "c1", Author: "user:nguyen.van.an", Body: "Đã sao lưu nhật ký máy chủ web để phục vụ điều tra.", Created: at(23, 9, 0)},
		},
		Sender: Org{
			Name:     "Trung tâm An ninh mạng tỉnh Cà Mau",
			Parent:   "Công an tỉnh Cà Mau",
			Address:  "Số 2 Hùng Vương, phường 5, thành phố Cà Mau, tỉnh Cà Mau",
			Phone:    "0290 3 812 345",
			Email:    "soc@camau.gov.vn",
			Province: "Cà Mau",
			Contact:  Person{Name: "Nguyễn Văn An", Title: "Trưởng nhóm ứng cứu sự cố", Phone: "0912 345 678", Email: "an.nv@camau.gov.vn"},
			Signer:   Person{Name: "Phạm Minh Đức", Title: "Giám đốc"},
		},
		Recipient:       "Cục An ninh mạng và phòng, chống tội phạm sử dụng công nghệ cao - Bộ Công an",
		CC:              []string{"Ủy ban nhân dân tỉnh Cà Mau", "Sở Khoa học và Công nghệ"},
		Number:          "125/BC-TTANM",
		Owner:           "Ủy ban nhân dân tỉnh Cà Mau",
		Operator:        "Văn phòng Ủy ban nhân dân tỉnh Cà Mau",
		SystemAddresses: map[string]string{"sys-portal": "camau.gov.vn, 203.0.113.10"},
		InfraProvider:   "Trung tâm dữ liệu tỉnh Cà Mau; đường truyền VNPT Cà Mau",
		Symptoms:        "Trang chủ hiển thị nội dung lạ; hệ thống giám sát phát hiện tệp thực thi PHP mới trong thư mục uploads.",
		Impact:          "Cổng thông tin gián đoạn 8 giờ; chưa phát hiện dữ liệu bị sửa đổi ngoài trang chủ.",
		Cause:           "Lỗ hổng tải tệp tin không kiểm tra định dạng trong phân hệ CMS phiên bản cũ.",
		Measures:        "Cô lập máy chủ, gỡ webshell, khôi phục từ bản sao lưu ngày 22/11/2026.\nChặn địa chỉ IP nguồn trên tường lửa.",
		PlannedMeasures: "Nâng cấp CMS; đánh giá lại toàn bộ ứng dụng web cấp độ 3.",
		Result:          "Cổng thông tin hoạt động trở lại lúc 16:30 ngày 23/11/2026.",
		Supporters: []Supporter{
			{Name: "Trung tâm An ninh mạng quốc gia", Support: "Phân tích mẫu webshell", Result: "Xác định được họ mã độc"},
		},
		Lessons:         "Cần kiểm soát chặt chẽ thư mục tải lên và giám sát toàn vẹn tệp tin.",
		Recommendations: "Đề nghị Bộ Công an hỗ trợ truy vết nguồn tấn công.",
		OtherInfo:       "Không có.",
		Breach: PDPBreach{
			Role:         Controller,
			OccurredAt:   ptr(at(23, 7, 58)),
			Place:        "Máy chủ Cổng thông tin điện tử tỉnh",
			Act:          "Truy cập trái phép cơ sở dữ liệu tài khoản người dùng",
			Actors:       "Chưa xác định đối tượng tấn công",
			Categories:   "họ tên, số điện thoại, vị trí đăng nhập",
			SubjectCount: 12500,
			RecordCount:  48200,
			Unit:         "Bộ phận bảo vệ dữ liệu cá nhân - Văn phòng UBND tỉnh",
			Officer:      Person{Name: "Lê Thị Hoa", Title: "Chuyên viên", Phone: "0987 654 321", Email: "hoa.lt@camau.gov.vn"},
			Consequences: "Nguy cơ dữ liệu vị trí bị sử dụng để lừa đảo.",
			MinutesRef:   "Biên bản số 01/BB-VP ngày 23/11/2026",
		},
		GeneratedAt: at(25, 10, 0),
	}
}

// summaryInput is a fixed summary input for Q4 2026.
func summaryInput(t testing.TB, kind Kind) SummaryInput {
	from, to, err := Quarter(2026, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if kind == Annual {
		from, to = Year(2026, nil)
	}
	return SummaryInput{
		Kind:            kind,
		Summary:         Summarize(metricIncidents(), from, to),
		Sender:          richInput().Sender,
		Recipient:       "Ủy ban nhân dân tỉnh Cà Mau",
		CC:              []string{"Công an tỉnh Cà Mau"},
		TenantNames:     map[string]string{"portal": "Cổng thông tin điện tử tỉnh"},
		Assessment:      "Tình hình an toàn thông tin trong kỳ cơ bản ổn định.",
		Recommendations: "Tiếp tục duy trì giám sát 24/7.",
		GeneratedAt:     time.Date(2026, time.December, 5, 9, 0, 0, 0, vietnam),
	}
}

var allKinds = []Kind{Notice, Initial, Report72h, Closing, PDPBreachNotice}

func render(t testing.TB, kind Kind, format Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if kind == Quarterly || kind == Annual {
		err = RenderSummary(&buf, format, summaryInput(t, kind))
	} else {
		err = Render(&buf, kind, format, richInput())
	}
	if err != nil {
		t.Fatalf("rendering %s as %s: %v", kind, format, err)
	}
	return buf.Bytes()
}

func TestHTMLGolden(t *testing.T) {
	for _, kind := range append(allKinds, Quarterly, Annual) {
		t.Run(string(kind), func(t *testing.T) {
			got := render(t, kind, HTML)
			path := filepath.Join("testdata", string(kind)+".golden.html")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; run go test -update and review the diff", path)
			}
		})
	}
}

// TestHTMLContent checks the legally required pieces are in every document,
// independently of the golden files.
func TestHTMLContent(t *testing.T) {
	common := []string{
		"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
		"Kính gửi:", "Cà Mau, ngày 25 tháng 11 năm 2026", "TRUNG TÂM AN NINH MẠNG TỈNH CÀ MAU",
		"Số: 125/BC-TTANM", "Căn cứ", "Nơi nhận:", "GIÁM ĐỐC", "Phạm Minh Đức",
		"Cấp độ 3", "Cấp độ 4",
		"203.0.113.45", "23/11/2026 08:15", "Đã loại bỏ nguyên nhân → Đã khôi phục",
	}
	facts := []string{"Tấn công thay đổi giao diện (deface)", "Rất cao", "Sự cố nghiêm trọng"}
	perKind := map[Kind][]string{
		Notice:          {"THÔNG BÁO SỰ CỐ", "điểm a khoản 3 Điều 9 Thông tư số 20/2017/TT-BTTTT", "24 giờ kể từ khi phát hiện, đến 24/11/2026 08:15"},
		Initial:         {"Mẫu số 03", "khoản 4 Điều 11 Quyết định số 05/2017/QĐ-TTg", "Nhà cung cấp dịch vụ hạ tầng CNTT, viễn thông", "Trung tâm An ninh mạng quốc gia", "Trưởng nhóm ứng cứu sự cố"},
		Report72h:       {"BÁO CÁO NGUYÊN NHÂN, PHẠM VI ẢNH HƯỞNG", "Nguyên nhân sự cố", "Lỗ hổng tải tệp tin", "72 giờ kể từ khi phát hiện, đến 26/11/2026 08:15", "Quá hạn"},
		Closing:         {"Mẫu số 04", "BÁO CÁO KẾT THÚC ỨNG PHÓ SỰ CỐ", "Bài học kinh nghiệm", "Tổng thời gian ứng phó", "2 ngày 45 phút", "05 ngày kể từ khi kết thúc ứng phó sự cố, đến 28/11/2026 16:30"},
		PDPBreachNotice: {"Mẫu số 08", "khoản 1 Điều 23 Luật Bảo vệ dữ liệu cá nhân", "Bên kiểm soát dữ liệu cá nhân", "12.500", "48.200", "Lê Thị Hoa", "Kính gửi: Cơ quan chuyên trách bảo vệ dữ liệu cá nhân - Bộ Công an", "Bắt buộc thông báo cho chủ thể dữ liệu", "chưa thông báo", "Biên bản số 01/BB-VP"},
	}
	for _, kind := range allKinds {
		t.Run(string(kind), func(t *testing.T) {
			got := string(render(t, kind, HTML))
			wants := append(common, perKind[kind]...)
			if kind != PDPBreachNotice {
				wants = append(wants, facts...)
			}
			for _, want := range wants {
				if !strings.Contains(got, want) {
					t.Errorf("missing %q", want)
				}
			}
		})
	}
}

func TestMissingOptionalFields(t *testing.T) {
	in := Input{
		Incident:    incident.Incident{ID: "INC-1", State: incident.New},
		Sender:      Org{Name: "Sở Y tế"},
		GeneratedAt: at(25, 10, 0),
	}
	for _, kind := range allKinds {
		var buf bytes.Buffer
		if err := Render(&buf, kind, HTML, in); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		got := buf.String()
		wants := []string{notAvailable, "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ", "……, ngày 25 tháng 11 năm 2026", "Số: ……/……"}
		if kind != PDPBreachNotice {
			wants = append(wants, "Chưa phân loại", "Chưa đánh giá", "Sự cố thông thường")
		}
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("%s: missing %q", kind, want)
			}
		}
		if strings.Contains(got, "<dd></dd>") || strings.Contains(got, `<p class="para"></p>`) {
			t.Errorf("%s: an empty field is printed blank instead of %q", kind, notAvailable)
		}
	}
}

func TestHTMLEscaping(t *testing.T) {
	in := richInput()
	in.Incident.Title = `<script>alert("x")</script>`
	in.Observables[0].Value = `<img src=x onerror=alert(1)>`
	in.Sender.Name = `A & B <b>`
	var buf bytes.Buffer
	if err := Render(&buf, Notice, HTML, in); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, bad := range []string{"<script>", "<img", "<b>"} {
		if strings.Contains(got, bad) {
			t.Errorf("output contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;", "A &amp; B &lt;b&gt;"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing escaped %q", want)
		}
	}
}

// pdfText returns the text a PDF shows: every string shown by Tj in its
// Flate-compressed content streams, decoded from UTF-16BE (how fpdf writes
// text in a UTF-8 font), joined with spaces so that a phrase wrapped over
// lines is still found.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	var parts []string
	rest := pdf
	for {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			break
		}
		rest = rest[i+len("stream\n"):]
		j := bytes.Index(rest, []byte("\nendstream"))
		if j < 0 {
			break
		}
		if r, err := zlib.NewReader(bytes.NewReader(rest[:j])); err == nil {
			b, _ := io.ReadAll(r)
			parts = append(parts, shownStrings(b)...)
		}
		rest = rest[j+len("\nendstream"):]
	}
	return strings.Join(parts, " ")
}

// shownStrings returns the literal strings of the Tj operators in content.
func shownStrings(content []byte) []string {
	var out []string
	for i := 0; i < len(content); i++ {
		if content[i] != '(' {
			continue
		}
		var lit []byte
		j := i + 1
		for ; j < len(content) && content[j] != ')'; j++ {
			if content[j] == '\\' && j+1 < len(content) {
				j++
				switch content[j] {
				case 'r':
					lit = append(lit, '\r')
				case 'n':
					lit = append(lit, '\n')
				default:
					lit = append(lit, content[j])
				}
				continue
			}
			lit = append(lit, content[j])
		}
		if bytes.HasPrefix(bytes.TrimLeft(content[min(j+1, len(content)):], " "), []byte("Tj")) && len(lit)%2 == 0 {
			u := make([]uint16, len(lit)/2)
			for k := range u {
				u[k] = uint16(lit[2*k])<<8 | uint16(lit[2*k+1])
			}
			out = append(out, string(utf16.Decode(u)))
		}
		i = j
	}
	return out
}

func TestPDF(t *testing.T) {
	pages := regexp.MustCompile(`/Type /Pages\n/Kids \[[^\]]*\]\n/Count (\d+)`)
	for _, kind := range append(allKinds, Quarterly, Annual) {
		t.Run(string(kind), func(t *testing.T) {
			got := render(t, kind, PDF)
			if !bytes.HasPrefix(got, []byte("%PDF-")) {
				t.Fatalf("does not start with %%PDF-: %q", got[:min(len(got), 16)])
			}
			if !bytes.HasSuffix(bytes.TrimSpace(got), []byte("%%EOF")) {
				t.Errorf("does not end with %s", "%%EOF")
			}
			m := pages.FindSubmatch(got)
			if m == nil || string(m[1]) == "0" {
				t.Fatalf("no page tree with pages (match %q)", m)
			}
			if kind != Notice && string(m[1]) == "1" {
				t.Errorf("page count %s: a full report is longer than one page", m[1])
			}
			for _, want := range []string{"/BaseFont /utf8dejavu", "/BaseFont /utf8dejavuB", "/FontFile2"} {
				if !bytes.Contains(got, []byte(want)) {
					t.Errorf("font not embedded: missing %q", want)
				}
			}
			text := pdfText(t, got)
			for _, want := range []string{"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Kính gửi:", "Trang 1/" + string(m[1])} {
				if !strings.Contains(text, want) {
					t.Errorf("page text lacks %q", want)
				}
			}
			if !bytes.Equal(got, render(t, kind, PDF)) {
				t.Error("rendering the same input twice gave different bytes")
			}
		})
	}
}

// TestPDFSameContentAsHTML checks a sample of body texts reach both formats.
func TestPDFSameContentAsHTML(t *testing.T) {
	text := pdfText(t, render(t, Closing, PDF))
	html := string(render(t, Closing, HTML))
	for _, want := range []string{"Bài học kinh nghiệm", "Cô lập máy chủ web khỏi mạng", "Ghi chú: Đã sao lưu nhật ký máy chủ web", "Đã loại bỏ nguyên nhân"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
		if !strings.Contains(text, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
}

func TestPDFLongTable(t *testing.T) {
	in := richInput()
	for i := range 300 {
		in.Observables = append(in.Observables, incident.Observable{Kind: incident.ObsIP, Value: "198.51.100.7",
			Note: strings.Repeat("ghi chú dài ", i%40)})
	}
	in.Observables = append(in.Observables, incident.Observable{Kind: incident.ObsURL, Note: strings.Repeat("một ô rất dài vượt quá một trang ", 400)})
	var buf bytes.Buffer
	if err := Render(&buf, Report72h, PDF, in); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`/Count (\d+)`).FindSubmatch(buf.Bytes())
	if m == nil || len(m[1]) < 2 {
		t.Errorf("300 observables and a page-long cell fit in %s pages; want ten or more", m[1])
	}
}

func TestSizeLimits(t *testing.T) {
	in := richInput()
	in.Observables = nil
	for range maxTableRows + 5 {
		in.Observables = append(in.Observables, incident.Observable{Kind: incident.ObsIP, Value: "198.51.100.7"})
	}
	in.Cause = strings.Repeat("ă", maxTextRunes+10)
	var buf bytes.Buffer
	if err := Render(&buf, Report72h, HTML, in); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if !strings.Contains(got, "Còn 5 mục khác không liệt kê trong văn bản này") {
		t.Error("the cut table does not say how many rows it left out")
	}
	if n := strings.Count(got, "198.51.100.7"); n != maxTableRows {
		t.Errorf("table lists %d rows, want %d", n, maxTableRows)
	}
	if strings.Contains(got, strings.Repeat("ă", maxTextRunes)) || !strings.Contains(got, strings.Repeat("ă", maxTextRunes-1)+"…") {
		t.Error("a text over the limit is not cut with an ellipsis")
	}
}

// TestRenderConcurrent renders PDFs in parallel (run with -race): the
// embedded font bytes are shared by every render.
func TestRenderConcurrent(t *testing.T) {
	want := render(t, Closing, PDF)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var buf bytes.Buffer
			err := Render(&buf, Closing, PDF, richInput())
			if err == nil && !bytes.Equal(buf.Bytes(), want) {
				err = errors.New("a concurrent render gave different bytes")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	good := richInput()
	tests := []struct {
		name   string
		kind   Kind
		format Format
		in     func(*Input)
		is     error
		text   []string
	}{
		{"unknown kind", "weekly", HTML, nil, ErrUnknownKind, nil},
		{"summary kind", Quarterly, HTML, nil, ErrUnknownKind, []string{"RenderSummary"}},
		{"unknown format", Notice, "docx", nil, ErrUnknownFormat, nil},
		{"missing fields", Notice, PDF, func(in *Input) { in.Incident.ID, in.Sender.Name, in.GeneratedAt = "", "", time.Time{} },
			nil, []string{"incident.id", "sender.name", "generated_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			if tt.in != nil {
				tt.in(&in)
			}
			var buf bytes.Buffer
			err := Render(&buf, tt.kind, tt.format, in)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			for _, s := range tt.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes despite the error", buf.Len())
			}
		})
	}
	if err := Render(nil, Notice, HTML, good); err == nil {
		t.Error("nil writer: no error")
	}
}

func TestRenderSummaryErrors(t *testing.T) {
	in := summaryInput(t, Quarterly)
	in.Kind, in.Recipient, in.Summary = Notice, " ", Summary{}
	err := RenderSummary(io.Discard, HTML, in)
	if err == nil || !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("err = %v, want ErrUnknownKind", err)
	}
	for _, s := range []string{"recipient", "period"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// TestHostileText feeds invalid UTF-8, control characters and runes outside
// the BMP through both renderers.
func TestHostileText(t *testing.T) {
	in := richInput()
	in.Incident.Title = "bad \xff\xfe utf8 \x00\x07 tab\there emoji 😀 (paren) \\ back\r\nslash"
	in.Measures = strings.Repeat("x", 5000)
	in.Timeline = append(in.Timeline, incident.Event{Action: "custom.thing", Detail: map[string]any{"n": 1, "nested": map[string]any{"a": []int{1, 2}}, "long": strings.Repeat("y", 1000)}})
	for _, f := range []Format{HTML, PDF} {
		if err := Render(io.Discard, Closing, f, in); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func FuzzRender(f *testing.F) {
	f.Add("Tấn công", "mô tả\nnhiều dòng", "203.0.113.1", int64(0))
	f.Add("\xff\x00<script>", "😀\t\r", "", int64(-1))
	f.Add(strings.Repeat("W", 300), strings.Repeat("rất dài ", 200), strings.Repeat("a", 500), int64(1<<40))
	f.Fuzz(func(t *testing.T, title, body, value string, shift int64) {
		in := richInput()
		in.Incident.Title, in.Measures, in.Observables[0].Value = title, body, value
		in.Incident.DetectedAt = in.Incident.DetectedAt.Add(time.Duration(shift))
		in.Comments = append(in.Comments, incident.Comment{Body: body, Author: title})
		for _, format := range []Format{HTML, PDF} {
			var buf bytes.Buffer
			if err := Render(&buf, Initial, format, in); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
		}
	})
}

func BenchmarkRenderPDF(b *testing.B) {
	in := richInput()
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, Closing, PDF, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderHTML(b *testing.B) {
	in := richInput()
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, Closing, HTML, in); err != nil {
			b.Fatal(err)
		}
	}
}
