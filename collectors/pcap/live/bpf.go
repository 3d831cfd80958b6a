package live

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// insn is one classic BPF instruction, as the kernel's struct sock_filter.
type insn struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

const (
	// maxInsns is the kernel's BPF_MAXINSNS.
	maxInsns = 4096
	// maxProgramText bounds tcpdump's -ddd output read (about 25 bytes per
	// instruction).
	maxProgramText = 64 * maxInsns
	compileTimeout = 10 * time.Second
	opRetK         = 0x06 // BPF_RET | BPF_K
)

// snapProgram accepts every packet and keeps snaplen bytes of it: the
// program attached when no filter expression is configured, since the
// return value of a socket filter is the snap length.
func snapProgram(snaplen int) []insn {
	return []insn{{Code: opRetK, K: uint32(snaplen)}}
}

// compileBPF compiles a tcpdump filter expression for link type link
// ("EN10MB", "RAW") and snap length snaplen by running tcpdump -ddd: no
// pure-Go compiler of tcpdump's language exists, and libpcap's (which
// tcpdump uses) is the reference. tcpdump opens no interface for this.
func compileBPF(ctx context.Context, tcpdump, link string, snaplen int, expr string) ([]insn, error) {
	ctx, cancel := context.WithTimeout(ctx, compileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tcpdump, "-ddd", "-y", link, "-s", strconv.Itoa(snaplen), "--", expr)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxProgramText, 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("compiling bpf %q with %s: %s", expr, tcpdump, msg)
	}
	if stdout.truncated {
		return nil, fmt.Errorf("compiling bpf %q: program longer than %d bytes", expr, maxProgramText)
	}
	prog, err := parseProgram(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("compiling bpf %q: reading tcpdump -ddd output: %w", expr, err)
	}
	return prog, nil
}

// parseProgram reads tcpdump -ddd output: the instruction count on the
// first line, then one "code jt jf k" line (decimal) per instruction.
func parseProgram(text []byte) ([]insn, error) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 256), 256)
	if !sc.Scan() {
		return nil, errors.New("empty program")
	}
	n, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil {
		return nil, fmt.Errorf("line 1: instruction count: %w", err)
	}
	if n < 1 || n > maxInsns {
		return nil, fmt.Errorf("line 1: %d instructions, want 1 to %d", n, maxInsns)
	}
	prog := make([]insn, 0, n)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if len(prog) == n {
			return nil, fmt.Errorf("line %d: more than %d instructions", len(prog)+2, n)
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: want 4 fields, got %d", len(prog)+2, len(f))
		}
		code, err1 := strconv.ParseUint(f[0], 10, 16)
		jt, err2 := strconv.ParseUint(f[1], 10, 8)
		jf, err3 := strconv.ParseUint(f[2], 10, 8)
		k, err4 := strconv.ParseUint(f[3], 10, 32)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("line %d: %w", len(prog)+2, err)
		}
		prog = append(prog, insn{Code: uint16(code), Jt: uint8(jt), Jf: uint8(jf), K: uint32(k)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(prog) != n {
		return nil, fmt.Errorf("%d instructions, header says %d", len(prog), n)
	}
	return prog, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.truncated = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
