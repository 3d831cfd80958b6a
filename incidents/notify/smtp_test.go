package notify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	smtp "github.com/emersion/go-smtp"
)

// message is one message the test server accepted.
type message struct {
	from string
	to   []string
	data []byte
	user string // authenticated user, if any
}

// smtpServer is an in-test SMTP server recording what it receives.
type smtpServer struct {
	addr   string
	mu     sync.Mutex
	got    []message
	caFile string      // PEM of its certificate, when it offers STARTTLS
	reject atomic.Bool // answer RCPT with 550
	srv    *smtp.Server
	logins map[string]string
}

func (s *smtpServer) messages() []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]message(nil), s.got...)
}

type session struct {
	s   *smtpServer
	msg message
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if want, ok := x.s.logins[username]; !ok || want != password {
			return errors.New("invalid credentials")
		}
		x.msg.user = username
		return nil
	}), nil
}
func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.msg.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.s.reject.Load() {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	x.msg.to = append(x.msg.to, to)
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.msg.data = b
	x.s.mu.Lock()
	x.s.got = append(x.s.got, x.msg)
	x.s.mu.Unlock()
	return nil
}
func (x *session) Reset()        { x.msg = message{user: x.msg.user} }
func (x *session) Logout() error { return nil }

// startSMTP starts a server on 127.0.0.1; withTLS offers STARTTLS with a
// fresh self-signed certificate and requires AUTH PLAIN as user "soc".
func startSMTP(t *testing.T, withTLS bool) *smtpServer {
	t.Helper()
	s := &smtpServer{logins: map[string]string{"soc": "p@ss wörd"}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if withTLS {
		cert, pemBytes := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.caFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(s.caFile, pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		srv.AllowInsecureAuth = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr, s.srv = l.Addr().String(), srv
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return s
}

func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return h, port
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readMessage parses a received message and decodes its subject and body.
func readMessage(t *testing.T, data []byte) (*mail.Message, string, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rawSubject := m.Header.Get("Subject")
	for _, r := range rawSubject {
		if r > 127 {
			t.Fatalf("subject not encoded for the wire: %q", rawSubject)
		}
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(rawSubject)
	if err != nil {
		t.Fatalf("decoding subject %q: %v", rawSubject, err)
	}
	var body io.Reader = m.Body
	switch cte := strings.ToLower(m.Header.Get("Content-Transfer-Encoding")); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(m.Body)
	case "", "8bit", "7bit":
	default:
		t.Fatalf("unexpected transfer encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return m, subject, string(b)
}

func TestSMTPMandatoryStartTLSWithAuth(t *testing.T) {
	srv := startSMTP(t, true)
	host, port := hostPort(t, srv.addr)
	m, err := Build(Config{SMTP: &SMTPConfig{Host: host, Port: port, StartTLS: StartTLSMandatory, Username: "soc",
		PasswordFile: writeFile(t, "p@ss wörd\n"), CAFile: srv.caFile, From: "Mangrove SOC <soc@example.gov.vn>",
		To: []string{"truc-ban@example.gov.vn", "lanh-dao@so-a.gov.vn"}, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	n := testNotice()
	if err := m.Notify(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("server got %d messages", len(got))
	}
	msg := got[0]
	if msg.user != "soc" || msg.from != "soc@example.gov.vn" || strings.Join(msg.to, ",") != "truc-ban@example.gov.vn,lanh-dao@so-a.gov.vn" {
		t.Fatalf("envelope: user %q from %q to %v", msg.user, msg.from, msg.to)
	}
	hdr, subject, body := readMessage(t, msg.data)
	if want := "[Mangrove] Quá hạn: Thông báo ban đầu sự cố nghiêm trọng — INC-0123456789abcdef"; subject != want {
		t.Fatalf("subject = %q, want %q", subject, want)
	}
	if to := hdr.Header.Get("To"); !strings.Contains(to, "truc-ban@example.gov.vn") || !strings.Contains(to, "lanh-dao@so-a.gov.vn") {
		t.Fatalf("To: %q", to)
	}
	if hdr.Header.Get("X-Mangrove-Incident") != n.IncidentID {
		t.Fatalf("X-Mangrove-Incident = %q", hdr.Header.Get("X-Mangrove-Incident"))
	}
	if strings.ReplaceAll(body, "\r\n", "\n") != Body(n) {
		t.Fatalf("body:\n%s\nwant:\n%s", body, Body(n))
	}
}

func TestSMTPFailures(t *testing.T) {
	plain := startSMTP(t, false)
	plainHost, plainPort := hostPort(t, plain.addr)
	tlsSrv := startSMTP(t, true)
	tlsHost, tlsPort := hostPort(t, tlsSrv.addr)
	tests := []struct {
		name      string
		o         SMTPOptions
		reject    *smtpServer
		wantErr   string
		permanent bool
	}{
		{"mandatory STARTTLS against a server without it", SMTPOptions{Host: plainHost, Port: plainPort}, nil, "STARTTLS", false},
		{"untrusted certificate", SMTPOptions{Host: tlsHost, Port: tlsPort}, nil, "certificate", false},
		{"recipient refused", SMTPOptions{Host: plainHost, Port: plainPort, StartTLS: StartTLSNone}, plain, "550", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.reject != nil {
				tt.reject.reject.Store(true)
				defer tt.reject.reject.Store(false)
			}
			tt.o.From, tt.o.To, tt.o.Timeout = "soc@example.gov.vn", []string{"a@example.gov.vn"}, 10*time.Second
			s, err := NewSMTP(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Notify(t.Context(), testNotice())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrPermanent) != tt.permanent {
				t.Fatalf("err = %v, want %q (permanent %v)", err, tt.wantErr, tt.permanent)
			}
		})
	}
	// Without TLS by configuration, the same plain server accepts.
	s, err := NewSMTP(SMTPOptions{Host: plainHost, Port: plainPort, StartTLS: StartTLSNone, From: "soc@example.gov.vn", To: []string{"a@example.gov.vn"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Notify(t.Context(), testNotice()); err != nil || len(plain.messages()) != 1 {
		t.Fatalf("plain send: %v, %d messages", err, len(plain.messages()))
	}
}
