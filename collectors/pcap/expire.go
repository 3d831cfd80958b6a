package pcap

import "time"

// Expire reports every flow idle for longer than its inactivity timeout at
// now, as a packet at now would. A live capture calls it on a wall-clock
// tick so that flows end while the link is quiet; a file needs it not. It
// returns an error only when emit failed.
func (p *Processor) Expire(now time.Time) error {
	if p.err != nil {
		return p.err
	}
	p.table.expire(now)
	return p.err
}
