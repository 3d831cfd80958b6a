package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func TestPutOpen(t *testing.T) {
	s, err := Open(t.TempDir(), 16)
	if err != nil {
		t.Fatal(err)
	}
	sum, size, err := s.Put(strings.NewReader("malware sample"))
	want := sha256.Sum256([]byte("malware sample"))
	if err != nil || sum != hex.EncodeToString(want[:]) || size != 14 {
		t.Fatalf("Put = %s %d %v", sum, size, err)
	}
	if again, _, err := s.Put(strings.NewReader("malware sample")); err != nil || again != sum {
		t.Fatalf("second Put = %s, %v", again, err)
	}
	f, err := s.Open(sum)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "malware sample" {
		t.Fatalf("content = %q", b)
	}
	if _, _, err := s.Put(strings.NewReader(strings.Repeat("x", 17))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize Put: %v", err)
	}
	for _, bad := range []string{"", "../../etc/passwd", strings.Repeat("z", 64), strings.Repeat("0", 64)} {
		if _, err := s.Open(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".upload-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
