package pcap

import (
	"errors"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/pcap/internal/sshbanner"
)

// sshState holds the identification strings of both sides.
type sshState struct {
	banner [2]*sshbanner.Banner // client, server
	sent   bool
	ts     time.Time
}

// parseSSH reads the identification string of a direction (the responder
// may send text lines before it), then stops inspecting the direction: the
// rest is encrypted. The "network.ssh" event is sent once both sides are
// known, or when the flow ends.
func (p *Processor) parseSSH(pk *packet, f *flow, dir int) {
	a := f.app
	h := &a.dirs[dir]
	var b sshbanner.Banner
	var err error
	if dir == a.client {
		_, err = sshbanner.ParseClient(h.buf, &b)
	} else {
		_, err = sshbanner.ParseServer(h.buf, &b)
	}
	if errors.Is(err, sshbanner.ErrIncomplete) {
		return
	}
	if err != nil {
		p.stats.AppMalformed++
	} else {
		if a.ssh == nil {
			a.ssh = new(sshState)
		}
		a.ssh.banner[dir^a.client] = &b // [0] client, [1] server
		if a.ssh.ts.IsZero() {
			a.ssh.ts = pk.ts
		}
		f.svc = svcSSH
	}
	p.endHalf(h)
	if a.dirs[0].done && a.dirs[1].done {
		p.flushSSH(f)
	}
}

// flushSSH sends the flow's "network.ssh" event once, when a banner was
// parsed. ECS has no SSH fields; the banners go where Zeek's ssh.log (and
// Filebeat's zeek module) puts them: zeek.ssh.client, zeek.ssh.server and
// zeek.ssh.version, plus the software names under mangrove.ssh.
func (p *Processor) flushSSH(f *flow) {
	s := f.app.ssh
	if s == nil || s.sent {
		return
	}
	c, sv := s.banner[0], s.banner[1]
	s.sent = true
	p.stats.SSHConnections++
	ev := p.appEvent("network.ssh", f, s.ts, svcSSH)
	version := ""
	if c != nil {
		ev.Set("zeek.ssh.client", str(c.String()))
		ev.Set("mangrove.ssh.client.software", str(c.Software))
		version = c.ProtoVersion
	}
	if sv != nil {
		ev.Set("zeek.ssh.server", str(sv.String()))
		ev.Set("mangrove.ssh.server.software", str(sv.Software))
		if version == "" || version == "1.99" {
			version = sv.ProtoVersion
		}
	}
	switch version {
	case "2.0", "1.99":
		ev.Set("zeek.ssh.version", num(2))
	case "1.5":
		ev.Set("zeek.ssh.version", num(1))
	}
	p.send(ev)
}
