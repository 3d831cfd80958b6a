package file

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/collectors/parse"
)

// errRewind means an earlier batch of the file failed: the lines are read
// again from the committed offset.
var errRewind = errors.New("rewinding to the committed offset")

// fpBytes is how many leading bytes identify a file's content.
const fpBytes = 64

// batchesPerTurn bounds the batches read from one file before the others get
// a turn.
const batchesPerTurn = 4

// drainTimeout is how long shutdown waits for in-flight batches to be
// acknowledged before writing the offsets a last time.
const drainTimeout = 5 * time.Second

// Collector tails the files of one `type: file` entry. Build it with
// Spec.Build; Run may be called once.
type Collector struct {
	spec     Spec
	name     string
	dir      string
	log      zerolog.Logger
	metrics  *collectors.Metrics
	lagBytes prometheus.Gauge
	// drainTimeout bounds the wait for in-flight batches at shutdown.
	drainTimeout time.Duration

	// Owned by the Run goroutine.
	files map[string]*tracked // by identity
	saved map[string]saved    // loaded at start, consumed as files appear
	idKey []byte
	head  [fpBytes]byte
	slab  event.FieldSlab
	// started is set after the first scan: files found later are new
	// (rotated in or created) and read from their beginning.
	started bool

	// mu guards inflight, dirty, the files map's membership, the fields of
	// tracked under "Guarded by" and the writes of the fields save reads
	// (path, gen, fp, fpLen, restored). The publisher's Done callbacks and
	// the offsets writer take it.
	mu       sync.Mutex
	inflight int
	dirty    bool
	freed    chan struct{} // signalled (non-blocking) when a batch is done
}

// parsedFields is the room kept for the fields a parser adds to a line's
// event (the OpenSSH parser adds up to 11).
const parsedFields = 16

// pend is one published batch of a file, in reading order.
type pend struct {
	end   int64 // offset after the batch's last line
	epoch int
	done  bool
}

// tracked is one file, known by its identity (device and inode).
type tracked struct {
	id      string
	path    string
	gz      bool
	matched bool // matched by the globs in the last scan
	size    int64
	mtime   time.Time

	// Reader state (Run goroutine only).
	fd        *os.File
	r         io.Reader
	pos       int64 // bytes read from r
	buf       []byte
	bufOff    int64 // offset of buf[0]
	start     int   // first unconsumed byte in buf
	skipping  bool  // dropping the rest of an over-long line
	gen       int
	fp        string
	fpLen     int
	restored  *saved
	lastGrow  time.Time
	behind    time.Time // when unread data was first seen, zero when caught up
	retryAt   time.Time
	openFails int

	// Guarded by Collector.mu.
	committed int64
	pending   []*pend
	epoch     int
	rewind    bool
	done      bool // gzip file read and acknowledged: never read again
	gzEOF     bool // gzip stream read to the end
	gzEnd     int64
}

// Run tails until ctx is done. It returns an error only when the offsets
// file cannot be read at start.
func (c *Collector) Run(ctx context.Context, p collectors.Publisher) error {
	st, err := loadOffsets(c.dir)
	if err != nil {
		return fmt.Errorf("file collector %s: %w", c.name, err)
	}
	c.saved = st
	c.files = map[string]*tracked{}
	c.freed = make(chan struct{}, 1)
	// Offsets are written by their own goroutine so that reading never
	// waits for an fsync.
	saverDone := make(chan struct{})
	go func() {
		defer close(saverDone)
		t := time.NewTicker(c.spec.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.save()
			}
		}
	}()
	for ctx.Err() == nil {
		c.scan()
		c.started = true
		progressed, err := c.readAll(ctx, p)
		if err != nil && ctx.Err() == nil {
			c.log.Warn().Err(err).Msg("reading files")
		}
		c.updateLag()
		if !progressed {
			t := time.NewTimer(c.spec.PollInterval)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	<-saverDone
	c.drain()
	c.save()
	for _, f := range c.files {
		f.close()
	}
	return nil
}

// drain waits, bounded, for in-flight batches to be acknowledged.
func (c *Collector) drain() {
	deadline := time.NewTimer(c.drainTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n := c.inflight
		c.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-c.freed:
		case <-deadline.C:
			return
		}
	}
}

// identity returns "device:inode" of a file.
func identity(fi fs.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(uint64(st.Ino), 10), true
}

// scan expands the globs and tracks new files.
func (c *Collector) scan() {
	for _, f := range c.files {
		f.matched = false
	}
	for _, pat := range c.spec.Paths {
		matches, _ := filepath.Glob(pat) // patterns were validated
		for _, m := range matches {
			if c.excluded(m) {
				continue
			}
			fi, err := os.Stat(m)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			id, ok := identity(fi)
			if !ok {
				continue
			}
			f := c.files[id]
			if f == nil {
				f = &tracked{id: id, gz: strings.HasSuffix(m, ".gz"), lastGrow: time.Now()}
				if s, ok := c.saved[id]; ok {
					f.restored = &s
					f.gen = s.Gen
					f.committed = s.Offset
					f.done = s.Done
					delete(c.saved, id)
				} else if !c.started && c.spec.StartAt == StartEnd {
					c.skipExisting(f, m, fi.Size())
				}
				c.mu.Lock()
				c.files[id] = f
				c.mu.Unlock()
			}
			c.mu.Lock()
			f.path, f.matched = m, true
			c.mu.Unlock()
			if fi.Size() != f.size {
				f.lastGrow = time.Now()
			}
			f.size, f.mtime = fi.Size(), fi.ModTime()
		}
	}
}

// skipExisting makes f, found at start without a saved offset, start at
// its end (start_at: end): after the last complete line of a plain file
// (a line still being written is read whole), and a gzip file is not read
// at all. The position is committed like an acknowledged one.
func (c *Collector) skipExisting(f *tracked, path string, size int64) {
	var off int64
	done := f.gz
	if !f.gz {
		off = lastLineEnd(path, size)
	}
	c.mu.Lock()
	f.committed, f.done = off, done
	c.dirty = true
	c.mu.Unlock()
}

// lastLineEndWindow bounds how far back lastLineEnd looks for a newline.
const lastLineEndWindow = 64 << 10

// lastLineEnd returns the offset after the last newline in the first size
// bytes of path, looking back at most lastLineEndWindow bytes; size when
// there is none in that window or the file cannot be read (the rest of
// the line is then read as a line of its own).
func lastLineEnd(path string, size int64) int64 {
	fd, err := os.Open(path)
	if err != nil {
		return size
	}
	defer fd.Close()
	from := max(0, size-lastLineEndWindow)
	buf := make([]byte, size-from)
	n, _ := io.ReadFull(io.NewSectionReader(fd, from, int64(len(buf))), buf)
	if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
		return from + int64(i) + 1
	}
	if from == 0 && n == len(buf) {
		return 0 // one unfinished line: read it whole
	}
	return size
}

func (c *Collector) excluded(path string) bool {
	base := filepath.Base(path)
	for _, x := range c.spec.Exclude {
		if ok, _ := filepath.Match(x, base); ok {
			return true
		}
	}
	return false
}

// readAll gives every file a turn; it reports whether any line was read.
func (c *Collector) readAll(ctx context.Context, p collectors.Publisher) (bool, error) {
	list := make([]*tracked, 0, len(c.files))
	for _, f := range c.files {
		list = append(list, f)
	}
	slices.SortFunc(list, func(a, b *tracked) int { return strings.Compare(a.path, b.path) })
	progressed := false
	var errs []error
	for _, f := range list {
		if ctx.Err() != nil {
			break
		}
		n, err := c.readFile(ctx, p, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.path, err))
		}
		progressed = progressed || n > 0
		c.maybeForget(f)
	}
	return progressed, errors.Join(errs...)
}

// maybeForget drops a file that no longer matches and will not grow: it was
// deleted, or has been idle for close_inactive, and everything read from it
// is acknowledged.
func (c *Collector) maybeForget(f *tracked) {
	if f.matched {
		return
	}
	c.mu.Lock()
	gzOpen := f.gz && !f.done && f.fd != nil
	c.mu.Unlock()
	if gzOpen {
		return // a gzip file is read to its end, even when deleted meanwhile
	}
	deleted := true
	if f.fd != nil && !f.gz {
		if fi, err := f.fd.Stat(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 0 && fi.Size() > f.pos {
				return // still has unread data
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 0 {
				deleted = false
			}
		}
	}
	if !deleted && time.Since(f.lastGrow) < c.spec.CloseInactive {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(f.pending) > 0 || (f.fd != nil && len(f.buf) > f.start) {
		return
	}
	f.close()
	delete(c.files, f.id)
	c.dirty = true
}

func (f *tracked) close() {
	if f.fd != nil {
		f.fd.Close()
		f.fd, f.r = nil, nil
	}
}

// open opens f at its committed offset, checking that the content is the
// one the saved offset belongs to.
func (c *Collector) open(f *tracked) error {
	fd, err := os.Open(f.path)
	if err != nil {
		return err
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return err
	}
	if id, _ := identity(fi); id != f.id {
		fd.Close()
		return fmt.Errorf("%s changed while opening", f.path)
	}
	head := make([]byte, min(fi.Size(), fpBytes))
	n, _ := io.ReadFull(io.NewSectionReader(fd, 0, int64(len(head))), head)
	head = head[:n]
	sum := fingerprint

	c.mu.Lock()
	if s := f.restored; s != nil {
		f.restored = nil
		reused := s.FPLen > 0 && (n < s.FPLen || sum(head[:s.FPLen]) != s.FP)
		shrunk := !f.gz && fi.Size() < s.Offset
		if reused || shrunk {
			f.gen++
			f.committed, f.done = 0, false
			c.dirty = true
		}
	}
	f.fp, f.fpLen = sum(head), n
	start := f.committed
	f.epoch++
	f.pending = nil
	f.rewind = false
	f.gzEOF = false
	c.mu.Unlock()

	var r io.Reader = fd
	if f.gz {
		zr, err := gzip.NewReader(fd)
		if err != nil {
			fd.Close()
			return fmt.Errorf("opening gzip: %w", err)
		}
		if _, err := io.CopyN(io.Discard, zr, start); err != nil {
			fd.Close()
			return fmt.Errorf("skipping to offset %d: %w", start, err)
		}
		r = zr
	} else if _, err := fd.Seek(start, io.SeekStart); err != nil {
		fd.Close()
		return err
	}
	f.fd, f.r = fd, r
	f.pos, f.bufOff, f.start, f.skipping = start, start, 0, false
	f.buf = f.buf[:0]
	return nil
}

// readFile reads and publishes up to batchesPerTurn batches of f and
// returns the number of lines read.
func (c *Collector) readFile(ctx context.Context, p collectors.Publisher, f *tracked) (int, error) {
	c.mu.Lock()
	done, rewind, gzEOF := f.done, f.rewind, f.gzEOF
	c.mu.Unlock()
	if done {
		f.close()
		return 0, nil
	}
	if (gzEOF && !rewind) || time.Now().Before(f.retryAt) {
		return 0, nil
	}
	if rewind && f.fd != nil {
		// Through the open descriptor: the file may have been rotated away.
		if err := c.rewindTo(f); err != nil {
			f.close()
			return 0, err
		}
	}
	if f.fd == nil {
		if !f.matched {
			return 0, nil
		}
		if err := c.open(f); err != nil {
			f.openFails++
			f.retryAt = time.Now().Add(min(time.Duration(f.openFails)*c.spec.PollInterval*4, time.Minute))
			return 0, err
		}
		f.openFails = 0
	}
	if !f.gz {
		if fi, err := f.fd.Stat(); err == nil && (fi.Size() < f.pos || c.headChanged(f, fi.Size())) {
			c.truncated(f)
		}
	}
	total := 0
	for range batchesPerTurn {
		evs, end, eof, err := c.readBatch(f)
		if err != nil {
			// A gzip file still being written, or an I/O error: read again
			// from the committed offset later.
			f.close()
			f.retryAt = time.Now().Add(4 * c.spec.PollInterval)
			return total, err
		}
		total += len(evs)
		if len(evs) > 0 {
			if err := c.publish(ctx, p, f, evs, end); errors.Is(err, errRewind) {
				return total, nil
			} else if err != nil {
				return total, err
			}
		}
		if eof {
			break
		}
	}
	return total, nil
}

// headChanged reports whether the first bytes of f are no longer those it
// had (copytruncate followed by fast writes can hide the shrink); while the
// file is shorter than fpBytes the fingerprint grows with it.
func (c *Collector) headChanged(f *tracked, size int64) bool {
	head := c.head[:min(size, fpBytes)]
	n, _ := f.fd.ReadAt(head, 0)
	head = head[:n]
	if n < f.fpLen {
		return true
	}
	if f.fpLen > 0 && fingerprint(head[:f.fpLen]) != f.fp {
		return true
	}
	if n > f.fpLen {
		fp := fingerprint(head)
		c.mu.Lock()
		f.fp, f.fpLen = fp, n
		c.mu.Unlock()
	}
	return false
}

func fingerprint(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// rewindTo repositions f's open descriptor at the committed offset after a
// failed batch.
func (c *Collector) rewindTo(f *tracked) error {
	c.mu.Lock()
	start := f.committed
	f.epoch++
	f.pending = nil
	f.rewind = false
	f.gzEOF = false
	c.mu.Unlock()
	if f.gz {
		if _, err := f.fd.Seek(0, io.SeekStart); err != nil {
			return err
		}
		zr, err := gzip.NewReader(f.fd)
		if err != nil {
			return fmt.Errorf("opening gzip: %w", err)
		}
		if _, err := io.CopyN(io.Discard, zr, start); err != nil {
			return fmt.Errorf("skipping to offset %d: %w", start, err)
		}
		f.r = zr
	} else {
		if _, err := f.fd.Seek(start, io.SeekStart); err != nil {
			return err
		}
		f.r = f.fd
	}
	f.pos, f.bufOff, f.start, f.skipping = start, start, 0, false
	f.buf = f.buf[:0]
	return nil
}

// truncated restarts f from the beginning with a new generation
// (copytruncate).
func (c *Collector) truncated(f *tracked) {
	c.mu.Lock()
	f.gen++
	f.epoch++
	f.pending = nil
	f.committed = 0
	c.dirty = true
	c.mu.Unlock()
	if _, err := f.fd.Seek(0, io.SeekStart); err != nil {
		f.close()
		return
	}
	f.pos, f.bufOff, f.start, f.skipping = 0, 0, 0, false
	f.buf = f.buf[:0]
	c.mu.Lock()
	f.fp, f.fpLen = "", 0
	c.mu.Unlock()
}

// readBatch reads up to BatchSize lines. end is the offset after the last
// byte consumed; eof reports that the reader had no more data.
func (c *Collector) readBatch(f *tracked) (evs []event.Event, end int64, eof bool, err error) {
	maxLine := c.spec.MaxLineBytes
	for len(evs) < c.spec.BatchSize {
		if i := bytes.IndexByte(f.buf[f.start:], '\n'); i >= 0 {
			line, off := f.buf[f.start:f.start+i], f.bufOff+int64(f.start)
			f.start += i + 1
			if f.skipping {
				f.skipping = false
				continue
			}
			if len(line) > maxLine {
				line = line[:maxLine]
				evs = append(evs, c.event(f, off, line, true))
				continue
			}
			evs = append(evs, c.event(f, off, bytes.TrimSuffix(line, []byte{'\r'}), false))
			continue
		}
		rem := len(f.buf) - f.start
		if f.skipping {
			f.start += rem
			rem = 0
		} else if rem >= maxLine {
			evs = append(evs, c.event(f, f.bufOff+int64(f.start), f.buf[f.start:f.start+maxLine], true))
			f.start += rem
			f.skipping = true
			rem = 0
		}
		// Compact, then read more.
		copy(f.buf, f.buf[f.start:])
		f.bufOff += int64(f.start)
		f.buf = f.buf[:rem]
		f.start = 0
		if cap(f.buf)-len(f.buf) < 16<<10 {
			f.buf = slices.Grow(f.buf, 64<<10)
		}
		n, rerr := f.r.Read(f.buf[len(f.buf):cap(f.buf)])
		f.buf = f.buf[:len(f.buf)+n]
		f.pos += int64(n)
		c.metrics.Bytes.Add(float64(n))
		if n > 0 {
			f.lastGrow = time.Now()
		}
		if n > 0 && rerr == io.EOF {
			continue // split what came with the EOF; the next Read reports it again
		}
		if n == 0 && (rerr == io.EOF || rerr == nil) {
			if f.gz || (!f.matched && time.Since(f.lastGrow) > 2*time.Second) {
				// Final data: a last line without newline counts.
				if len(f.buf) > 0 && !f.skipping {
					if len(f.buf) > maxLine {
						evs = append(evs, c.event(f, f.bufOff, f.buf[:maxLine], true))
					} else {
						evs = append(evs, c.event(f, f.bufOff, bytes.TrimSuffix(f.buf, []byte{'\r'}), false))
					}
				}
				f.start = len(f.buf)
				f.skipping = false
				if f.gz {
					c.mu.Lock()
					f.gzEOF, f.gzEnd = true, f.bufOff+int64(f.start)
					c.mu.Unlock()
				}
			}
			eof = true
			break
		}
		if rerr != nil {
			return nil, 0, false, rerr
		}
	}
	return evs, f.bufOff + int64(f.start), eof, nil
}

// event builds one event from a line at offset off. Its ID depends only on
// the tenant, the file's identity and generation, and the offset.
func (c *Collector) event(f *tracked, off int64, line []byte, truncated bool) event.Event {
	k := append(c.idKey[:0], f.id...)
	k = append(k, ':')
	k = strconv.AppendInt(k, int64(f.gen), 10)
	k = append(k, ':')
	k = strconv.AppendInt(k, off, 10)
	c.idKey = k
	msg := strings.ToValidUTF8(string(line), "\uFFFD")
	ev := event.Event{
		ID: event.NewID(c.spec.Tenant, k), Time: time.Now().UTC(), Tenant: c.spec.Tenant,
		Source: c.name, Dataset: c.spec.Dataset,
	}
	// The parser adds its fields in place, in room left in the slab.
	ev.Fields = append(c.slab.Room(3+parsedFields),
		event.Field{Name: "log.file.path", Value: event.StringValue(f.path)},
		event.Field{Name: "log.offset", Value: event.NumberValue(float64(off))},
		event.Field{Name: "message", Value: event.StringValue(msg)})
	c.metrics.In.Inc()
	err := parse.Parse(c.spec.Parser, &ev)
	ev.Fields = c.slab.Claim(ev.Fields)
	if err != nil {
		c.metrics.ParseErrors.Inc()
		ev.Set("error.message", event.StringValue(err.Error()))
	}
	if truncated {
		ev.Set("tags", event.Value{Kind: event.List, List: []event.Value{event.StringValue("truncated")}})
	}
	return ev
}

// publish hands one batch of f to p, waiting while max_in_flight batches
// are unacknowledged.
func (c *Collector) publish(ctx context.Context, p collectors.Publisher, f *tracked, evs []event.Event, end int64) error {
	for {
		c.mu.Lock()
		n := c.inflight
		c.mu.Unlock()
		if n < c.spec.MaxInFlight {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.freed:
		}
	}
	c.mu.Lock()
	if f.rewind {
		c.mu.Unlock()
		return errRewind
	}
	pe := &pend{end: end, epoch: f.epoch}
	f.pending = append(f.pending, pe)
	c.inflight++
	c.mu.Unlock()
	b := event.NewBatch(evs, func(err error) { c.done(f, pe, err) })
	if err := p.Publish(ctx, b); err != nil {
		c.mu.Lock()
		if i := slices.Index(f.pending, pe); i >= 0 {
			f.pending = slices.Delete(f.pending, i, i+1)
		}
		c.inflight--
		f.rewind = true
		c.mu.Unlock()
		return fmt.Errorf("publishing: %w", err)
	}
	c.metrics.Seen(time.Now())
	return nil
}

// done is a batch's completion: on success the committed offset advances
// over the acknowledged prefix of the file's batches; on failure the file is
// read again from its committed offset.
func (c *Collector) done(f *tracked, pe *pend, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	select {
	case c.freed <- struct{}{}:
	default:
	}
	if pe.epoch != f.epoch {
		return
	}
	if err != nil {
		c.log.Warn().Err(err).Str("file_id", f.id).Msg("batch not stored; reading again from the committed offset")
		f.epoch++
		f.pending = nil
		f.rewind = true
		return
	}
	pe.done = true
	for len(f.pending) > 0 && f.pending[0].done {
		f.committed = f.pending[0].end
		f.pending = f.pending[1:]
		c.dirty = true
	}
	if f.gzEOF && len(f.pending) == 0 && f.committed == f.gzEnd {
		f.done = true
	}
}

// save writes the committed offsets when they changed.
func (c *Collector) save() {
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return
	}
	out := make(map[string]saved, len(c.files))
	for id, f := range c.files {
		if f.restored != nil {
			out[id] = *f.restored // not opened yet: keep what was saved
			continue
		}
		out[id] = saved{Path: f.path, Offset: f.committed, Gen: f.gen, FP: f.fp, FPLen: f.fpLen, Done: f.done}
	}
	c.dirty = false
	c.mu.Unlock()
	if err := saveOffsets(c.dir, out); err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		c.log.Error().Err(err).Msg("saving offsets")
	}
}

// updateLag sets the lag gauges: unread bytes, and the age of the oldest
// unread data in seconds.
func (c *Collector) updateLag() {
	var bytes int64
	var oldest time.Time
	now := time.Now()
	for _, f := range c.files {
		if f.gz || !f.matched {
			continue
		}
		behind := f.size - f.pos
		if f.fd == nil {
			c.mu.Lock()
			behind = f.size - f.committed
			c.mu.Unlock()
		}
		if behind <= 0 {
			f.behind = time.Time{}
			continue
		}
		bytes += behind
		if f.behind.IsZero() {
			f.behind = now
		}
		if oldest.IsZero() || f.behind.Before(oldest) {
			oldest = f.behind
		}
	}
	c.lagBytes.Set(float64(bytes))
	if oldest.IsZero() {
		c.metrics.Lag.Set(0)
	} else {
		c.metrics.Lag.Set(now.Sub(oldest).Seconds())
	}
}

var lagBytesMu sync.Mutex

// lagBytesGauge returns the file collectors' unread-bytes gauge, shared by
// every file collector of a registry.
func lagBytesGauge(reg prometheus.Registerer) (*prometheus.GaugeVec, error) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mangrove_file_lag_bytes", Help: "Bytes in tailed files not yet read.",
	}, []string{collectors.LabelCollector})
	if reg == nil {
		return g, nil
	}
	lagBytesMu.Lock()
	defer lagBytesMu.Unlock()
	if err := reg.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.GaugeVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return g, nil
}
