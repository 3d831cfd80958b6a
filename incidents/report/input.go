package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mangrove-soc/mangrove/incidents/incident"
)

// Kind is a type of report.
type Kind string

// Kinds of incident reports (rendered by Render) and of period summaries
// (rendered by RenderSummary).
const (
	// Notice is the incident notice (Thông báo sự cố) with the fields of
	// TT 20/2017/TT-BTTTT Art. 9(3)(a); under Decree 331/2026 Art.
	// 31(2)(d) it is also the initial notice due within 24 hours of a
	// serious incident.
	Notice Kind = "notice"
	// Initial is the initial report (Báo cáo ban đầu, Form 03) with the
	// fields of QĐ 05/2017/QĐ-TTg Art. 11(4).
	Initial Kind = "initial"
	// Report72h is the report on cause, scope of impact and remediation
	// due within 72 hours of discovery (Decree 331/2026 Art. 31(2)(d)).
	Report72h Kind = "report_72h"
	// Closing is the closing report (Báo cáo kết thúc ứng phó sự cố, Form
	// 04).
	Closing Kind = "closing"
	// PDPBreachNotice is the personal-data breach notice (Form 08 of Decree
	// 356/2025/NĐ-CP, content of its Art. 28(1)).
	PDPBreachNotice Kind = "pdp_breach"
	// Quarterly and Annual are the period summaries of RenderSummary.
	Quarterly Kind = "quarterly"
	Annual    Kind = "annual"
)

// KindInfo describes a kind for pickers and logs.
type KindInfo struct {
	Kind Kind
	// Title is the Vietnamese document title.
	Title string
	// Summary reports whether the kind is rendered by RenderSummary
	// (otherwise by Render).
	Summary bool
}

// Kinds lists every kind with its Vietnamese title.
var Kinds = []KindInfo{
	{Notice, "Thông báo sự cố", false},
	{Initial, "Báo cáo ban đầu về sự cố", false},
	{Report72h, "Báo cáo nguyên nhân, phạm vi ảnh hưởng và biện pháp khắc phục sự cố", false},
	{Closing, "Báo cáo kết thúc ứng phó sự cố", false},
	{PDPBreachNotice, "Thông báo vi phạm quy định về bảo vệ dữ liệu cá nhân", false},
	{Quarterly, "Báo cáo tổng hợp tình hình sự cố an toàn thông tin theo quý", true},
	{Annual, "Báo cáo tổng hợp tình hình sự cố an toàn thông tin hằng năm", true},
}

// Title returns the kind's Vietnamese title, or "" for an unknown kind.
func (k Kind) Title() string {
	for _, i := range Kinds {
		if i.Kind == k {
			return i.Title
		}
	}
	return ""
}

// Format is an output format.
type Format string

// Formats.
const (
	HTML Format = "html" // one self-contained HTML page, UTF-8
	PDF  Format = "pdf"  // A4, with an embedded subset of DejaVu Sans
)

// Person is a contact or signer.
type Person struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"` // position (chức vụ)
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Org is the organisation that sends a report.
type Org struct {
	// Name is the agency or organisation (cơ quan, đơn vị).
	Name string `json:"name"`
	// Parent is its governing body (cơ quan chủ quản), printed above Name
	// in the heading; optional.
	Parent  string `json:"parent,omitempty"`
	Address string `json:"address,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Email   string `json:"email,omitempty"`
	// Province is the place in the date line ("Cà Mau, ngày …").
	Province string `json:"province,omitempty"`
	// Contact is the person the recipient calls back (người liên hệ).
	Contact Person `json:"contact"`
	// Signer signs the document (thủ trưởng cơ quan, đơn vị or a deputy).
	// An empty Title prints the generic "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ".
	Signer Person `json:"signer"`
}

// Supporter is an organisation that helped with the response and what it
// achieved (QĐ 05/2017 Art. 11(4)).
type Supporter struct {
	Name    string `json:"name"`
	Support string `json:"support,omitempty"` // what it did
	Result  string `json:"result,omitempty"`
}

// PDPRole is the notifier's role under Law 91/2025/QH15.
type PDPRole string

// PDP roles.
const (
	Controller          PDPRole = "controller"           // bên kiểm soát
	ControllerProcessor PDPRole = "controller_processor" // bên kiểm soát và xử lý
	Processor           PDPRole = "processor"            // bên xử lý
	ThirdParty          PDPRole = "third_party"          // bên thứ ba
)

// PDPBreach holds the facts of a personal-data breach that the incident does
// not (Decree 356/2025 Art. 28(1) and 29). The data kinds themselves come
// from Incident.PersonalData; the discovery time is Incident.DetectedAt.
type PDPBreach struct {
	// Recipient follows "Kính gửi:"; blank means the MPS personal-data
	// protection agency (cơ quan chuyên trách bảo vệ dữ liệu cá nhân).
	Recipient string  `json:"recipient,omitempty"`
	Role      PDPRole `json:"role,omitempty"`
	// OccurredAt is when the violation happened, if known.
	OccurredAt *time.Time `json:"occurred_at,omitempty"`
	Place      string     `json:"place,omitempty"` // where (system, site)
	Act        string     `json:"act,omitempty"`   // the violating act
	// Actors are the organisations or persons involved.
	Actors string `json:"actors,omitempty"`
	// Categories describes the data categories in words, beyond the kinds
	// in Incident.PersonalData (e.g. "họ tên, số CCCD, số điện thoại").
	Categories string `json:"categories,omitempty"`
	// SubjectCount and RecordCount are the volume; 0 means unknown.
	SubjectCount int `json:"subject_count,omitempty"`
	RecordCount  int `json:"record_count,omitempty"`
	// Unit and Officer are the personal-data protection unit or staff, or
	// the PDP service provider, to contact (Art. 28(1)(b)).
	Unit    string `json:"unit,omitempty"`
	Officer Person `json:"officer"`
	// Consequences are the likely consequences and harm (Art. 28(1)(c)).
	Consequences string `json:"consequences,omitempty"`
	// MinutesRef identifies the confirmation record (biên bản xác nhận,
	// Law 91 Art. 23(2)).
	MinutesRef string `json:"minutes_ref,omitempty"`
	// SubjectsNotifiedAt is when data subjects were told (Art. 29: within
	// 72 h for location or biometric data).
	SubjectsNotifiedAt *time.Time `json:"subjects_notified_at,omitempty"`
	// DelayReason explains a notice sent later than 72 h after discovery.
	DelayReason string `json:"delay_reason,omitempty"`
}

// Input is everything an incident report prints. Every text field is
// optional unless noted: a blank one prints "Chưa có thông tin".
type Input struct {
	// Incident is the incident reported on; its ID is required.
	Incident    incident.Incident     `json:"incident"`
	Observables []incident.Observable `json:"observables,omitempty"`
	Tasks       []incident.Task       `json:"tasks,omitempty"`
	Timeline    []incident.Event      `json:"timeline,omitempty"`
	// Comments are printed in the timeline next to the events: pass only
	// the ones meant for the recipient.
	Comments []incident.Comment `json:"comments,omitempty"`

	// Sender is the organisation that sends the report; its Name is
	// required.
	Sender Org `json:"sender"`
	// Recipient is the authority after "Kính gửi:" in the incident kinds;
	// blank means the MPS specialised agency (Cục An ninh mạng và phòng,
	// chống tội phạm sử dụng công nghệ cao). PDPBreachNotice goes to
	// Breach.Recipient instead: the two obligations have separate
	// recipients.
	Recipient string `json:"recipient,omitempty"`
	// CC are further recipients listed under "Nơi nhận" (the archive line
	// "Lưu: VT" is always added).
	CC []string `json:"cc,omitempty"`
	// Number is the document number ("123/BC-TTANM"); blank leaves the
	// dotted space the clerk fills in.
	Number string `json:"number,omitempty"`

	// Owner (chủ quản) and Operator (đơn vị vận hành) of the affected
	// systems. A blank Operator prints the sender.
	Owner    string `json:"owner,omitempty"`
	Operator string `json:"operator,omitempty"`
	// SystemAddresses gives the domain names and IP addresses of affected
	// systems, by incident.System.ID.
	SystemAddresses map[string]string `json:"system_addresses,omitempty"`
	// InfraProvider is the IT or telecom infrastructure provider.
	InfraProvider string `json:"infra_provider,omitempty"`

	// Symptoms describes what was seen; blank prints the incident's
	// description.
	Symptoms string `json:"symptoms,omitempty"`
	// Impact is the (first) estimate of harm, spread and effect on
	// operations.
	Impact string `json:"impact,omitempty"`
	// Cause is the cause found so far.
	Cause string `json:"cause,omitempty"`
	// Measures are the measures taken; PlannedMeasures the ones planned.
	Measures        string `json:"measures,omitempty"`
	PlannedMeasures string `json:"planned_measures,omitempty"`
	// Result is the result of the response so far.
	Result string `json:"result,omitempty"`
	// Supporters helped with the response.
	Supporters []Supporter `json:"supporters,omitempty"`
	// Lessons are the lessons learned (closing report).
	Lessons         string `json:"lessons,omitempty"`
	Recommendations string `json:"recommendations,omitempty"`
	OtherInfo       string `json:"other_info,omitempty"`

	// Breach is used by PDPBreachNotice.
	Breach PDPBreach `json:"breach"`

	// LegalBasis replaces the kind's default legal basis lines when set.
	LegalBasis []string `json:"legal_basis,omitempty"`
	// GeneratedAt is the document date; required (no clock is read, so the
	// same input always renders the same document).
	GeneratedAt time.Time `json:"generated_at"`
}

// Default recipients.
const (
	defaultIncidentRecipient = "Cục An ninh mạng và phòng, chống tội phạm sử dụng công nghệ cao - Bộ Công an"
	defaultPDPRecipient      = "Cơ quan chuyên trách bảo vệ dữ liệu cá nhân - Bộ Công an"
)

// validate returns every problem with in at once.
func (in *Input) validate() error {
	var errs []error
	if in.Incident.ID == "" {
		errs = append(errs, errors.New("incident.id: required"))
	}
	if in.Sender.Name == "" {
		errs = append(errs, errors.New("sender.name: required"))
	}
	if in.GeneratedAt.IsZero() {
		errs = append(errs, errors.New("generated_at: required"))
	}
	return errors.Join(errs...)
}

// incidentKinds are the kinds Render builds.
var incidentKinds = map[Kind]func(*Input) *document{
	Notice:          buildNotice,
	Initial:         buildInitial,
	Report72h:       build72h,
	Closing:         buildClosing,
	PDPBreachNotice: buildPDPBreach,
}

// ErrUnknownKind and ErrUnknownFormat are returned for a kind or format this
// package does not render.
var (
	ErrUnknownKind   = errors.New("unknown report kind")
	ErrUnknownFormat = errors.New("unknown report format")
)

// Render writes the report of the given kind about in.Incident to w. The
// kinds are Notice, Initial, Report72h, Closing and PDPBreachNotice
// (Quarterly and Annual go through RenderSummary). An unknown kind wraps
// ErrUnknownKind, an unknown format ErrUnknownFormat, and an incomplete input
// lists every missing field. Nothing is written to w unless the whole
// document rendered. Render is safe for concurrent use and reads no clock.
func Render(w io.Writer, kind Kind, format Format, in Input) error {
	build, ok := incidentKinds[kind]
	if !ok {
		if kind == Quarterly || kind == Annual {
			return fmt.Errorf("%w %q: period summaries are rendered by RenderSummary", ErrUnknownKind, kind)
		}
		return fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	if err := in.validate(); err != nil {
		return fmt.Errorf("rendering %s report: %w", kind, err)
	}
	if err := write(w, format, build(&in)); err != nil {
		return fmt.Errorf("rendering %s report for %s: %w", kind, in.Incident.ID, err)
	}
	return nil
}

// write renders doc in format to w, in one write.
func write(w io.Writer, format Format, doc *document) error {
	if w == nil {
		return errors.New("nil writer")
	}
	doc.sanitize()
	var buf bytes.Buffer
	switch format {
	case HTML:
		if err := renderHTML(&buf, doc); err != nil {
			return err
		}
	case PDF:
		if err := renderPDF(&buf, doc); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w %q (want html or pdf)", ErrUnknownFormat, format)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
