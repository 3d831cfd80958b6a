package sigma

// pack returns a copy of the condition tree n whose nodes, child lists and
// tests lie in three arrays, in the order evaluation reads them (depth
// first), instead of wherever compiling happened to allocate each: a rule
// evaluated on a cold event then misses the cache on a few neighbouring
// lines rather than on a line per node. A subtree shared within n stays
// shared. The tests' matchers, field references and indexes are shared
// with n, which stays valid.
func pack(n *node) *node {
	if n == nil {
		return nil
	}
	var nodes, kids, tests int
	seen := map[*node]bool{}
	var count func(*node)
	count = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		nodes++
		kids += len(n.kids)
		if n.test != nil {
			tests++
		}
		for _, k := range n.kids {
			count(k)
		}
	}
	count(n)
	// The arrays are allocated at their final size: appending never moves
	// them, so that pointers into them stay valid.
	p := packer{
		nodes: make([]node, 0, nodes),
		kids:  make([]*node, 0, kids),
		tests: make([]test, 0, tests),
		done:  make(map[*node]*node, nodes),
	}
	return p.copy(n)
}

type packer struct {
	nodes []node
	kids  []*node
	tests []test
	done  map[*node]*node
}

func (p *packer) copy(n *node) *node {
	if c, ok := p.done[n]; ok {
		return c
	}
	p.nodes = append(p.nodes, *n)
	c := &p.nodes[len(p.nodes)-1]
	p.done[n] = c
	if n.test != nil {
		p.tests = append(p.tests, *n.test)
		c.test = &p.tests[len(p.tests)-1]
	}
	if len(n.kids) > 0 {
		// The child list first, then the children after it.
		at := len(p.kids)
		p.kids = append(p.kids, n.kids...)
		c.kids = p.kids[at : at+len(n.kids) : at+len(n.kids)]
		for i, k := range n.kids {
			c.kids[i] = p.copy(k)
		}
	}
	return c
}
