package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// STARTTLS policies of SMTPOptions.StartTLS.
const (
	StartTLSMandatory     = "mandatory"     // refuse to send without STARTTLS
	StartTLSOpportunistic = "opportunistic" // use STARTTLS when the server offers it
	StartTLSNone          = "none"          // never (only for a relay on the same host)
)

// DefaultSMTPTimeout bounds one SMTP session.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPOptions configure an SMTP notifier.
type SMTPOptions struct {
	Host string
	Port int // default 587
	// StartTLS is one of StartTLSMandatory (default), StartTLSOpportunistic,
	// StartTLSNone.
	StartTLS string
	// Username and Password authenticate (the mechanism is chosen from
	// what the server offers); an empty Username sends without AUTH.
	Username, Password string
	From               string
	To                 []string
	// RootCAs verify the server's certificate (default: the system pool).
	RootCAs *x509.CertPool
	// Timeout bounds one session (default DefaultSMTPTimeout).
	Timeout time.Duration
}

// SMTP e-mails each notice, with a Vietnamese subject and a body in
// Vietnamese then English, to a fixed list of recipients. Each notice is
// one SMTP session; there are no retries inside Notify (the Dispatcher
// tries again on its next round). Safe for concurrent use.
type SMTP struct {
	o      SMTPOptions
	policy mail.TLSPolicy
}

// NewSMTP checks o and returns the notifier.
func NewSMTP(o SMTPOptions) (*SMTP, error) {
	s := &SMTP{o: o}
	if s.o.Port == 0 {
		s.o.Port = 587
	}
	if s.o.Timeout <= 0 {
		s.o.Timeout = DefaultSMTPTimeout
	}
	switch s.o.StartTLS {
	case "", StartTLSMandatory:
		s.policy = mail.TLSMandatory
	case StartTLSOpportunistic:
		s.policy = mail.TLSOpportunistic
	case StartTLSNone:
		s.policy = mail.NoTLS
	default:
		return nil, fmt.Errorf("unknown STARTTLS policy %q", s.o.StartTLS)
	}
	if s.o.Host == "" || len(s.o.To) == 0 || s.o.From == "" {
		return nil, errors.New("SMTP notifier needs host, from and to")
	}
	s.o.To = append([]string(nil), s.o.To...)
	return s, nil
}

// Notify implements Notifier. A rejection the server marks permanent
// (5xx) wraps ErrPermanent.
func (s *SMTP) Notify(ctx context.Context, n Notice) error {
	m := mail.NewMsg()
	if err := m.From(s.o.From); err != nil {
		return fmt.Errorf("%w: from address: %w", ErrPermanent, err)
	}
	if err := m.To(s.o.To...); err != nil {
		return fmt.Errorf("%w: to addresses: %w", ErrPermanent, err)
	}
	m.Subject(Subject(n))
	m.SetDate()
	m.SetMessageID()
	m.SetGenHeader("X-Mangrove-Event", n.Kind)
	m.SetGenHeader("X-Mangrove-Incident", n.IncidentID)
	m.SetBodyString(mail.TypeTextPlain, Body(n))

	opts := []mail.Option{
		mail.WithPort(s.o.Port),
		mail.WithTLSPolicy(s.policy),
		mail.WithTimeout(s.o.Timeout),
		mail.WithTLSConfig(&tls.Config{ServerName: s.o.Host, RootCAs: s.o.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	if s.o.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.o.Username), mail.WithPassword(s.o.Password))
	}
	c, err := mail.NewClient(s.o.Host, opts...)
	if err != nil {
		return fmt.Errorf("%w: SMTP client: %w", ErrPermanent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return fmt.Errorf("%w: sending mail via %s: %w", ErrPermanent, s.o.Host, err)
		}
		return fmt.Errorf("sending mail via %s: %w", s.o.Host, err)
	}
	return nil
}

// vnTime is Vietnam time (UTC+7, no daylight saving), fixed so that no
// time-zone database is needed.
var vnTime = time.FixedZone("ICT", 7*3600)

// Subject returns the e-mail subject of a notice, in Vietnamese:
// "[Mangrove] Quá hạn: <deadline> — <incident>".
func Subject(n Notice) string {
	name := n.DeadlineNameVI
	if name == "" {
		name = n.DeadlineName
	}
	return headerSafe.Replace(fmt.Sprintf("[Mangrove] %s: %s — %s", kindVI(n.Kind), name, n.IncidentID))
}

// headerSafe keeps a header value on one line.
var headerSafe = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")

func kindVI(kind string) string {
	switch kind {
	case KindDueSoon:
		return "Sắp đến hạn"
	case KindOverdue:
		return "Quá hạn"
	}
	return "Thông báo"
}

func kindEN(kind string) string {
	switch kind {
	case KindDueSoon:
		return "Due soon"
	case KindOverdue:
		return "Overdue"
	}
	return "Notice"
}

// Body returns the plain-text body of a notice: Vietnamese first (times in
// Vietnam time), then English (times in UTC). The remaining or exceeded
// time is counted from n.Time.
func Body(n Notice) string {
	left := n.Due.Sub(n.Time)
	var b strings.Builder
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s\n", label, value)
		}
	}
	nameVI := n.DeadlineNameVI
	if nameVI == "" {
		nameVI = n.DeadlineName
	}
	fmt.Fprintf(&b, "%s: %s\n\n", kindVI(n.Kind), nameVI)
	line("Sự cố", n.IncidentID+" — "+n.IncidentTitle)
	line("Đơn vị", n.Tenant)
	line("Thời hạn", n.Due.In(vnTime).Format("15:04 02/01/2006")+" (giờ Việt Nam)")
	if left >= 0 {
		line("Thời gian còn lại", durationVI(left))
	} else {
		line("Đã quá hạn", durationVI(-left))
	}
	line("Căn cứ", n.Basis)
	line("Xem chi tiết", n.URL)
	b.WriteString("\n---\n\n")
	name := n.DeadlineName
	if name == "" {
		name = nameVI
	}
	fmt.Fprintf(&b, "%s: %s\n\n", kindEN(n.Kind), name)
	line("Incident", n.IncidentID+" — "+n.IncidentTitle)
	line("Tenant", n.Tenant)
	line("Due", n.Due.UTC().Format("2006-01-02 15:04 UTC"))
	if left >= 0 {
		line("Time left", durationEN(left))
	} else {
		line("Overdue by", durationEN(-left))
	}
	line("Basis", n.Basis)
	line("Link", n.URL)
	b.WriteString("\n-- \nMangrove SOC. Thư này được gửi tự động / This message was sent automatically.\n")
	return b.String()
}

// splitDuration rounds d to minutes and splits it into days, hours, minutes.
func splitDuration(d time.Duration) (days, hours, mins int) {
	m := int(d.Round(time.Minute) / time.Minute)
	return m / (24 * 60), m / 60 % 24, m % 60
}

func durationVI(d time.Duration) string {
	days, hours, mins := splitDuration(d)
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

func durationEN(d time.Duration) string {
	days, hours, mins := splitDuration(d)
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%dh", hours))
	}
	if mins > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%dm", mins))
	}
	return strings.Join(parts, " ")
}
