package sigma

import (
	"fmt"
)

// litScanner finds, in one pass over a text, every occurrence of a set of
// literals, ignoring ASCII case, so the text is never copied or lowered:
//
//   - literals of gramLen bytes or more by a gramScanner, whose tables stay
//     in the processor's caches however many the literals are (a dense
//     automaton of thousands of literals takes megabytes, and a cache miss
//     per byte scanned);
//   - shorter ones by an Aho-Corasick automaton compiled into a dense DFA
//     whose byte classes map each upper-case ASCII letter to its lower
//     case;
//   - when the literals are few, texts of minAnchorText bytes or more by an
//     anchorScanner instead.
//
// Scanning does not allocate beyond the caller's hit slice. It is immutable
// after newLitScanner and safe for concurrent use.
type litScanner struct {
	class  [256]uint32
	nclass uint32
	// trans[s+c] is the state after state s (premultiplied by nclass) reads
	// a byte of class c, with matchBit set when that state ends a literal.
	trans []uint32
	// outOff[i]..outOff[i+1] index outs: the literals ending at state i
	// (state index, not premultiplied), suffixes included.
	outOff []uint32
	outs   []int32
	maxLen int // of the longest literal
	// dense: the automaton has literals (else it is not built).
	dense  bool
	gram   *gramScanner
	anchor *anchorScanner
	// lits are the literals, by index (Set.merged reads them).
	lits []string
}

const matchBit = uint32(1) << 31

// maxScannerStates bounds one automaton: beyond it the transition table
// would take more than a few hundred MiB.
const maxScannerStates = 1 << 22

// newLitScanner compiles the literals, which must be ASCII lower case (any
// other byte is matched exactly) and not empty. Hits report the literal's
// index in lits.
func newLitScanner(lits []string) (*litScanner, error) {
	var short, long []string
	var sids, lids, ids []int32
	for i, l := range lits {
		switch {
		case l == "":
			return nil, fmt.Errorf("empty literal")
		case len(l) < gramLen:
			short, sids = append(short, l), append(sids, int32(i))
		default:
			long, lids = append(long, l), append(lids, int32(i))
		}
		ids = append(ids, int32(i))
	}
	a := &litScanner{}
	if len(short) > 0 {
		var err error
		if a, err = newDense(short, sids); err != nil {
			return nil, err
		}
	}
	if len(long) > 0 {
		a.gram = newGramScanner(long, lids)
	}
	a.anchor = newAnchorScanner(lits, ids)
	a.lits = lits
	return a, nil
}

// newDense compiles the literals into one dense automaton; a hit reports
// ids[i] for lits[i].
func newDense(lits []string, ids []int32) (*litScanner, error) {
	a := &litScanner{dense: true}
	// Byte classes: one per distinct byte of the literals, upper case
	// letters sharing their lower case's class, and class 0 for the rest.
	var used [256]bool
	for _, l := range lits {
		if l == "" {
			return nil, fmt.Errorf("empty literal")
		}
		for i := 0; i < len(l); i++ {
			used[l[i]] = true
		}
	}
	n := uint32(1)
	for b := range 256 {
		if used[b] {
			a.class[b] = n
			n++
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		a.class[b] = a.class[b+'a'-'A']
	}
	a.nclass = n
	// Trie: goto[s*n+c] is the child state index, 0 for none (state 0 is
	// the root, never a child).
	type node struct {
		out  []int32
		fail uint32
	}
	nodes := []node{{}}
	trie := make([]uint32, n)
	for li, l := range lits {
		a.maxLen = max(a.maxLen, len(l))
		s := uint32(0)
		for i := 0; i < len(l); i++ {
			c := a.class[l[i]]
			next := trie[s*n+c]
			if next == 0 {
				if len(nodes) >= maxScannerStates {
					return nil, fmt.Errorf("literal automaton exceeds %d states", maxScannerStates)
				}
				next = uint32(len(nodes))
				nodes = append(nodes, node{})
				trie = append(trie, make([]uint32, n)...)
				trie[s*n+c] = next
			}
			s = next
		}
		nodes[s].out = append(nodes[s].out, ids[li])
	}
	// Breadth-first: fail links, outputs of suffixes, and the dense DFA in
	// place of the trie (a missing child takes its fail state's move).
	queue := make([]uint32, 0, len(nodes))
	for c := range n {
		if child := trie[c]; child != 0 {
			nodes[child].fail = 0
			queue = append(queue, child)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := nodes[s].fail
		nodes[s].out = append(nodes[s].out, nodes[f].out...)
		for c := range n {
			child := trie[s*n+c]
			if child == 0 {
				trie[s*n+c] = trie[f*n+c]
				continue
			}
			nodes[child].fail = trie[f*n+c]
			queue = append(queue, child)
		}
	}
	a.trans = trie
	a.outOff = make([]uint32, len(nodes)+1)
	for i := range nodes {
		a.outs = append(a.outs, nodes[i].out...)
		a.outOff[i+1] = uint32(len(a.outs))
	}
	for i, t := range a.trans {
		if len(nodes[t].out) > 0 {
			a.trans[i] = t*n | matchBit
		} else {
			a.trans[i] = t * n
		}
	}
	return a, nil
}

// scan appends to hits the index of each literal occurring in s (a literal
// occurring several times may be appended several times).
//
// The automaton scans a long text as two overlapping halves in lock step:
// its loop is bound by the latency of one table load per byte, and
// two independent walks overlap theirs. The second half starts maxLen-1
// bytes early, so that a literal ending in it is found by the second walk
// alone, and one ending in the first half by the first walk.
func (a *litScanner) scan(s string, hits []int32) []int32 {
	if a.anchor != nil && len(s) >= minAnchorText {
		return a.anchor.scan(s, hits)
	}
	if a.gram != nil {
		hits = a.gram.scan(s, hits)
	}
	if !a.dense {
		return hits
	}
	if len(s) < 4*a.maxLen || len(s) < 64 {
		return a.scanFrom(s, 0, 0, hits)
	}
	if len(s) >= 16*a.maxLen && len(s) >= 256 {
		return a.scan4(s, hits)
	}
	return a.scan2(s, hits)
}

// scan4 scans s as four overlapping quarters in lock step, like scan2.
func (a *litScanner) scan4(s string, hits []int32) []int32 {
	over := a.maxLen - 1
	q := (len(s) + 3*over) / 4 // length of each quarter but the last
	// Quarter j covers s[j*(q-over) : j*(q-over)+q]; the last runs to the end.
	step := q - over
	s0, s1, s2, s3 := s[:q], s[step:step+q], s[2*step:2*step+q], s[3*step:]
	trans, class := a.trans, &a.class
	var st0, st1, st2, st3 uint32
	for i := 0; i < q; i++ {
		t0 := trans[st0+class[s0[i]]]
		t1 := trans[st1+class[s1[i]]]
		t2 := trans[st2+class[s2[i]]]
		t3 := trans[st3+class[s3[i]]]
		st0, st1, st2, st3 = t0&^matchBit, t1&^matchBit, t2&^matchBit, t3&^matchBit
		if (t0|t1|t2|t3)&matchBit != 0 {
			if t0&matchBit != 0 {
				hits = a.appendOuts(hits, st0)
			}
			if t1&matchBit != 0 {
				hits = a.appendOuts(hits, st1)
			}
			if t2&matchBit != 0 {
				hits = a.appendOuts(hits, st2)
			}
			if t3&matchBit != 0 {
				hits = a.appendOuts(hits, st3)
			}
		}
	}
	return a.scanFrom(s3, q, st3, hits)
}

// scan2 scans s as two overlapping halves in lock step.
func (a *litScanner) scan2(s string, hits []int32) []int32 {
	mid := (len(s) + a.maxLen - 1) / 2 // end of the first half
	start := mid - (a.maxLen - 1)      // start of the second
	trans, class := a.trans, &a.class
	sa, sb := uint32(0), uint32(0)
	n := min(mid, len(s)-start)
	second := s[start : start+n]
	first := s[:n]
	for i := 0; i < n; i++ {
		ta := trans[sa+class[first[i]]]
		tb := trans[sb+class[second[i]]]
		sa, sb = ta&^matchBit, tb&^matchBit
		if (ta|tb)&matchBit != 0 {
			if ta&matchBit != 0 {
				hits = a.appendOuts(hits, sa)
			}
			if tb&matchBit != 0 {
				hits = a.appendOuts(hits, sb)
			}
		}
	}
	// The longer walk finishes alone.
	if n < mid {
		return a.scanFrom(s[:mid], n, sa, hits)
	}
	return a.scanFrom(s, start+n, sb, hits)
}

// scanFrom walks s from byte i in state st.
func (a *litScanner) scanFrom(s string, i int, st uint32, hits []int32) []int32 {
	trans, class := a.trans, &a.class
	for ; i < len(s); i++ {
		t := trans[st+class[s[i]]]
		st = t &^ matchBit
		if t&matchBit != 0 {
			hits = a.appendOuts(hits, st)
		}
	}
	return hits
}

// appendOuts appends the literals ending at state st (premultiplied).
func (a *litScanner) appendOuts(hits []int32, st uint32) []int32 {
	k := st / a.nclass
	return append(hits, a.outs[a.outOff[k]:a.outOff[k+1]]...)
}

// size is the approximate heap the scanner holds, in bytes.
func (a *litScanner) size() int {
	n := 4*len(a.trans) + 4*len(a.outOff) + 4*len(a.outs) + 4*256
	if a.gram != nil {
		n += a.gram.size()
	}
	return n
}
