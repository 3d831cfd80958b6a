package auth

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRolePermissions spells out, independently of rolePermissions, which
// role holds which permission: A admin, N analyst, R responder, O agency
// officer, U auditor, I ingest.
func TestRolePermissions(t *testing.T) {
	matrix := map[Permission]string{
		PermEventsWrite:         "AN   I",
		PermEventsRead:          "ANROU ",
		PermAlertsRead:          "ANROU ",
		PermAlertsWrite:         "ANR   ",
		PermIncidentsRead:       "ANROU ",
		PermIncidentsCreate:     "AN O  ",
		PermIncidentsWrite:      "ANR   ",
		PermIncidentsComment:    "ANRO  ",
		PermIncidentsTransition: "ANR   ",
		PermReportsRead:         "ANROU ",
		PermMetricsRead:         "ANROU ",
		PermRulesRead:           "AN  U ",
		PermRulesWrite:          "AN    ",
		PermAuditRead:           "AN  U ",
		PermUsersAdmin:          "A     ",
	}
	roles := []string{RoleAdmin, RoleAnalyst, RoleResponder, RoleAgencyOfficer, RoleAuditor, RoleIngest}
	if len(matrix) != len(AllPermissions) {
		t.Fatalf("matrix has %d permissions, AllPermissions %d", len(matrix), len(AllPermissions))
	}
	for _, perm := range AllPermissions {
		row, ok := matrix[perm]
		if !ok {
			t.Errorf("%s missing from the matrix", perm)
			continue
		}
		for i, role := range roles {
			want := row[i] != ' '
			p := Principal{Name: "x", Role: role}
			if got := p.Can(perm); got != want {
				t.Errorf("%s.Can(%s) = %v, want %v", role, perm, got, want)
			}
			if got := slices.Contains(Permissions(role), perm); got != want {
				t.Errorf("Permissions(%s) has %s = %v, want %v", role, perm, got, want)
			}
		}
	}
	for _, role := range []string{"", "root", "Admin", "agency "} {
		p := Principal{Name: "x", Role: role}
		for _, perm := range AllPermissions {
			if p.Can(perm) {
				t.Errorf("unknown role %q can %s", role, perm)
			}
		}
		if Permissions(role) != nil || p.CanRead() {
			t.Errorf("unknown role %q has permissions", role)
		}
	}
	// The alias has the permissions of agency_officer.
	if !slices.Equal(Permissions(RoleAgency), Permissions(RoleAgencyOfficer)) {
		t.Errorf("Permissions(agency) = %v", Permissions(RoleAgency))
	}
	// Auditors only read.
	for _, perm := range Permissions(RoleAuditor) {
		if !strings.HasSuffix(string(perm), ".read") {
			t.Errorf("auditor has %s", perm)
		}
	}
	// Permissions returns a copy.
	ps := Permissions(RoleAdmin)
	ps[0] = "changed"
	if Permissions(RoleAdmin)[0] == "changed" {
		t.Error("Permissions returned the table itself")
	}
}

func TestCanRead(t *testing.T) {
	for role, want := range map[string]bool{
		RoleAdmin: true, RoleAnalyst: true, RoleResponder: true, RoleAgencyOfficer: true, RoleAuditor: true,
		RoleIngest: false, RoleAgency: true, "nobody": false,
	} {
		if got := (Principal{Role: role}).CanRead(); got != want {
			t.Errorf("%s: CanRead = %v, want %v", role, got, want)
		}
	}
}

func TestCanonicalRole(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"agency", RoleAgencyOfficer, true},
		{"agency_officer", RoleAgencyOfficer, true},
		{"admin", RoleAdmin, true},
		{"auditor", RoleAuditor, true},
		{"ingest", RoleIngest, true},
		{"ADMIN", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := CanonicalRole(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalRole(%q) = %q, %v", tt.in, got, ok)
		}
	}
}

func TestUserValidate(t *testing.T) {
	tests := []struct {
		u    User
		want []string // substrings of the error; none = valid
	}{
		{User{Name: "lan.nguyen@soc.vn", Role: RoleAnalyst}, nil},
		{User{Name: "officer-a", Role: RoleAgency, Tenant: "so-a"}, nil},
		{User{Name: "officer-a", Role: RoleAgencyOfficer}, []string{"requires a tenant"}},
		{User{Name: "", Role: "root"}, []string{"name: required", `role "root"`}},
		{User{Name: "-x", Role: RoleAdmin}, []string{"starting with a letter"}},
		{User{Name: "a b", Role: RoleAdmin}, []string{"use letters"}},
		{User{Name: "ok", Role: RoleAdmin, Tenant: "so a"}, []string{"tenant:"}},
		{User{Name: strings.Repeat("a", 129), Role: RoleAdmin}, []string{"longer than 128"}},
		{User{Name: "ok", Role: RoleAdmin, OIDCSubject: strings.Repeat("s", 256)}, []string{"oidc_subject"}},
	}
	for _, tt := range tests {
		err := tt.u.Validate()
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%+v: %v", tt.u, err)
			}
			continue
		}
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %v, want %q", tt.u, err, w)
			}
		}
	}
}

func TestTokenPolicy(t *testing.T) {
	for _, tt := range []struct {
		d  string
		ok bool
	}{{"0s", false}, {"-1h", false}, {"30s", false}, {"1m", true}, {"720h", true}, {"8784h", true}, {"8785h", false}} {
		d, _ := time.ParseDuration(tt.d)
		if err := CheckTokenTTL(d); (err == nil) != tt.ok {
			t.Errorf("CheckTokenTTL(%s) = %v", tt.d, err)
		}
	}
	if err := CheckDescription("ci shipper\x00"); err == nil {
		t.Error("control character accepted")
	}
	if err := CheckDescription(strings.Repeat("x", MaxDescription+1)); err == nil {
		t.Error("long description accepted")
	}
	s1, sum1, err := NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	s2, sum2, _ := NewTokenSecret()
	if !strings.HasPrefix(s1, TokenPrefix) || len(s1) != len(TokenPrefix)+43 || s1 == s2 || sum1 == sum2 {
		t.Errorf("secrets %q %q", s1, s2)
	}
	id, err := NewTokenID()
	if err != nil || !strings.HasPrefix(id, "tok_") || len(id) != 20 {
		t.Errorf("id %q, %v", id, err)
	}
}
