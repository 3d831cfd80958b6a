package sigma

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTextGrams checks the gram sets of long texts against
// strings.Contains: containsLong for one value, containsIndex.anyIn for
// many, with values planted at the ends of the text and anywhere in it.
func TestTextGrams(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const alphabet = "abcAB:.-\\ é\x00"
	word := func(n int) string {
		b := make([]byte, 0, n)
		for len(b) < n {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		return string(b)
	}
	st := getFreshState(nil)
	defer putState(st)
	checked, built := 0, 0
	for range 300 {
		st.begin(nil, 0)
		var lits []string
		for range 1 + rng.IntN(12) {
			lits = append(lits, word(1+rng.IntN(8)))
		}
		text := word(minGramText + rng.IntN(2*minGramText))
		for _, l := range lits {
			switch rng.IntN(4) {
			case 0:
				text = l + text
			case 1:
				text += l
			case 2:
				at := rng.IntN(len(text) + 1)
				text = text[:at] + l + text[at:]
			}
		}
		x := newContainsIndex(lits)
		want := false
		for _, l := range lits {
			want = want || strings.Contains(text, l)
		}
		if got := x.anyIn(st, text); got != want {
			t.Fatalf("anyIn %q: %v, want %v", lits, got, want)
		}
		if st.ngrams != 1 || !st.grams[0].built {
			t.Fatal("no gram set built for a test of many values")
		}
		for _, l := range lits {
			checked++
			// Twice: the second search uses the set.
			for range 2 {
				if got, want := st.containsLong(text, l), strings.Contains(text, l); got != want {
					t.Fatalf("containsLong %q: %v, want %v", l, got, want)
				}
			}
			if len(l) >= textGramLen && !st.grams[0].mayContain(l) {
				built++ // rejected by the set
			}
		}
	}
	if checked < 1000 || built < 100 {
		t.Errorf("%d checks, %d rejected by the set", checked, built)
	}
	// A single value: the set is built on the second search of a text.
	st.begin(nil, 0)
	text := strings.Repeat("x", minGramText)
	for i, want := range []bool{false, true} {
		st.containsLong(text, "abcd")
		if got := st.ngrams == 1 && st.grams[0].built; got != want {
			t.Errorf("search %d: built %v, want %v", i+1, got, want)
		}
	}
	// At most maxTextGrams texts per event; others are searched directly.
	st.begin(nil, 0)
	for i := range maxTextGrams + 2 {
		text := strings.Repeat(string(rune('a'+i)), minGramText) + "needle"
		if !newContainsIndex([]string{"needle", "pin"}).anyIn(st, text) {
			t.Fatalf("text %d: needle not found", i)
		}
	}
	if st.ngrams != maxTextGrams {
		t.Errorf("%d texts with sets, want %d", st.ngrams, maxTextGrams)
	}
}

// TestLongTextRule: a rule's contains tests on a long command line, with
// few values and with many, give the verdicts of their matchers one by
// one, for a fresh state and for one reused across rules of one event.
func TestLongTextRule(t *testing.T) {
	r, err := compileRule(t, detectionRule(`s:
  - CommandLine|contains: ['cmd.exe /c', 'CMD /k', whoami, 'sys*32']
  - CommandLine|contains: [Invoke-Expression, iex, DownloadString, '-enc', Net.WebClient, bitsadmin, certutil, ab]
  - CommandLine|contains|cased: [SQBFAFgA, aQBlAHgA, SUVY, lFW, JAB, Net.WebClient, DownloadString, iEx]
condition: s`))
	if err != nil {
		t.Fatal(err)
	}
	// The rule by hand: strings.Contains and a regular expression.
	fold := []string{"cmd.exe /c", "cmd /k", "whoami", "invoke-expression", "iex", "downloadstring", "-enc", "net.webclient", "bitsadmin", "certutil", "ab"}
	cased := []string{"SQBFAFgA", "aQBlAHgA", "SUVY", "lFW", "JAB", "Net.WebClient", "DownloadString", "iEx"}
	glob := regexp.MustCompile(`(?s)sys.*32`)
	byHand := func(s string) bool {
		low := lowerASCII(s)
		for _, l := range fold {
			if strings.Contains(low, l) {
				return true
			}
		}
		for _, l := range cased {
			if strings.Contains(s, l) {
				return true
			}
		}
		return glob.MatchString(low)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	parts := []string{"cmd.exe /c", "CMD.EXE /C", "cmd /k", "WhoAmI", "whoam", "SYS", "32", "IEX", "-ENC", "bitsadmin",
		"SQBFAFgA", "sqbfafga", "JAB", "jab", "iEx", "Net.WebClient", "a", "b"}
	matched := 0
	for range 1000 {
		var b strings.Builder
		n := minGramText + rng.IntN(minGramText)
		for b.Len() < n {
			b.WriteByte("acdmzQW /.-"[rng.IntN(11)])
		}
		s := b.String()
		for range rng.IntN(3) {
			at := rng.IntN(len(s) + 1)
			s = s[:at] + parts[rng.IntN(len(parts))] + s[at:]
		}
		ev := jsonEvent(t, `{"CommandLine": `+strconv.Quote(s)+`}`)
		want := byHand(s)
		if want {
			matched++
		}
		if got := r.Match(ev); got != want {
			t.Fatalf("%q: rule %v, matchers %v", s, got, want)
		}
	}
	if matched < 100 || matched > 900 {
		t.Errorf("%d of 1000 texts matched", matched)
	}
}
