package sigma

import (
	"math/bits"
	"slices"
)

// Merged parts: a field is scanned once per part that may hold for the
// event, so that a Sysmon process creation's message was read twice, for
// the windows-wide keyword rule (Mimikatz) and for the keyword rules of
// process creations, and a registry key three times. When a scan plan
// (Set.plan) has a field with two or more such parts whose literals are
// few, it scans instead with one automaton of all their literals, built
// the first time that field meets that set of parts and kept in the Set.
const (
	maxMergedLits = 256  // literals of a merged automaton, at most
	maxMerges     = 1024 // merged automata (or refusals) a Set keeps
)

// mergeKey names a field's scanner and a set of its parts (a bit each).
type mergeKey struct {
	fs   *fieldScan
	live uint64
}

// merged returns a fieldScan with one part, holding the literals of the
// parts of fs in live (two or more) that satisfy some group of fs, with
// the groups of each, and fs's exact values and numbers: scanning a value
// with it marks what scanning it with each of those parts does. Nil when
// they hold more than maxMergedLits literals, or when the Set keeps
// maxMerges already. It is safe for concurrent use.
func (s *Set) merged(fs *fieldScan, live uint64) *fieldScan {
	key := mergeKey{fs, live}
	s.mergeMu.Lock()
	m, ok := s.merges[key]
	s.mergeMu.Unlock()
	if ok {
		return m
	}
	m = mergeParts(fs, live)
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	if s.merges == nil {
		s.merges = map[mergeKey]*fieldScan{}
	}
	if len(s.merges) >= maxMerges {
		return nil
	}
	s.merges[key] = m
	return m
}

func mergeParts(fs *fieldScan, live uint64) *fieldScan {
	index := map[string]int{}
	var lits []string
	var groups [][]int32
	for l := live; l != 0; l &= l - 1 {
		p := &fs.parts[bits.TrailingZeros64(l)]
		for i, lit := range p.sc.lits {
			gs := p.groupIDs[p.groupOff[i]:p.groupOff[i+1]]
			if len(gs) == 0 {
				continue
			}
			k, ok := index[lit]
			if !ok {
				if len(lits) == maxMergedLits {
					return nil
				}
				k = len(lits)
				index[lit] = k
				lits, groups = append(lits, lit), append(groups, nil)
			}
			groups[k] = append(groups[k], gs...)
		}
	}
	if len(lits) == 0 {
		return nil
	}
	sc, err := newLitScanner(lits)
	if err != nil {
		return nil
	}
	part := scanPart{sc: sc, groupOff: make([]uint32, 1, len(lits)+1)}
	for _, gs := range groups {
		slices.Sort(gs)
		part.groupIDs = append(part.groupIDs, slices.Compact(gs)...)
		part.groupOff = append(part.groupOff, uint32(len(part.groupIDs)))
	}
	m := *fs
	m.parts = []scanPart{part}
	return &m
}
