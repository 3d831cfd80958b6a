package tlshello

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
)

// AppendJA3 appends the JA3 string of c to dst:
// "Version,Ciphers,Extensions,Groups,PointFormats", decimal values joined
// with '-', GREASE values removed.
func (c *ClientHello) AppendJA3(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(c.Version), 10)
	dst = append(dst, ',')
	dst = appendDecList(dst, c.CipherSuites)
	dst = append(dst, ',')
	dst = appendDecList(dst, c.Extensions)
	dst = append(dst, ',')
	dst = appendDecList(dst, c.SupportedGroups)
	dst = append(dst, ',')
	for i, f := range c.ECPointFormats {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = strconv.AppendUint(dst, uint64(f), 10)
	}
	return dst
}

// JA3 returns the JA3 string and its MD5 hash in lower-case hex.
func (c *ClientHello) JA3() (str, hash string) {
	var buf [1024]byte
	b := c.AppendJA3(buf[:0])
	return string(b), md5Hex(b)
}

// AppendJA3S appends the JA3S string of s to dst: "Version,Cipher,Extensions".
func (s *ServerHello) AppendJA3S(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(s.Version), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(s.CipherSuite), 10)
	dst = append(dst, ',')
	return appendDecList(dst, s.Extensions)
}

// JA3S returns the JA3S string and its MD5 hash in lower-case hex.
func (s *ServerHello) JA3S() (str, hash string) {
	var buf [512]byte
	b := s.AppendJA3S(buf[:0])
	return string(b), md5Hex(b)
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func appendDecList(dst []byte, vs []uint16) []byte {
	first := true
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if !first {
			dst = append(dst, '-')
		}
		first = false
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	return dst
}

// Protocol markers for the first character of JA4.
const (
	ProtoTCP  = 't'
	ProtoQUIC = 'q'
	ProtoDTLS = 'd'
)

// JA4Version returns the two-character JA4 version code: the highest
// non-GREASE supported_versions value when that extension is present, else
// the legacy version.
func (c *ClientHello) JA4Version() string {
	v := c.Version
	if len(c.SupportedVersions) > 0 {
		v = 0
		for _, sv := range c.SupportedVersions {
			if !IsGREASE(sv) && sv > v {
				v = sv
			}
		}
	}
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// AppendJA4 appends the JA4 fingerprint of c (FoxIO JA4, TLS client only) to
// dst. proto is ProtoTCP, ProtoQUIC or ProtoDTLS.
func (c *ClientHello) AppendJA4(dst []byte, proto byte) []byte {
	var ciphers, exts [MaxListLen]uint16
	nc := 0
	for _, v := range c.CipherSuites {
		if !IsGREASE(v) {
			ciphers[nc] = v
			nc++
		}
	}
	ne, allExt := 0, 0
	for _, v := range c.Extensions {
		if IsGREASE(v) {
			continue
		}
		allExt++
		if v == extServerName || v == extALPN {
			continue
		}
		exts[ne] = v
		ne++
	}
	dst = append(dst, proto)
	dst = append(dst, c.JA4Version()...)
	if c.HasSNI {
		dst = append(dst, 'd')
	} else {
		dst = append(dst, 'i')
	}
	dst = appendTwoDigits(dst, nc)
	dst = appendTwoDigits(dst, allExt)
	dst = appendALPNChars(dst, c.ALPN)
	dst = append(dst, '_')

	var scratch [MaxListLen * 10]byte
	cs := ciphers[:nc]
	slices.Sort(cs)
	if nc == 0 {
		dst = append(dst, "000000000000"...)
	} else {
		dst = appendTruncSHA(dst, appendHexList(scratch[:0], cs))
	}
	dst = append(dst, '_')
	es := exts[:ne]
	slices.Sort(es)
	if ne == 0 {
		return append(dst, "000000000000"...)
	}
	b := appendHexList(scratch[:0], es)
	var sigs [MaxListLen]uint16
	ns := 0
	for _, v := range c.SignatureAlgorithms {
		if !IsGREASE(v) {
			sigs[ns] = v
			ns++
		}
	}
	if ns > 0 {
		b = append(b, '_')
		b = appendHexList(b, sigs[:ns])
	}
	return appendTruncSHA(dst, b)
}

// JA4 returns the JA4 fingerprint of c; see AppendJA4.
func (c *ClientHello) JA4(proto byte) string {
	var buf [64]byte
	return string(c.AppendJA4(buf[:0], proto))
}

func appendTwoDigits(dst []byte, n int) []byte {
	n = min(n, 99)
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendALPNChars appends the first and last characters of the first ALPN
// value, "00" when there is none. Non-ASCII bytes become '9', as FoxIO's
// reference implementation does.
func appendALPNChars(dst []byte, alpn []string) []byte {
	if len(alpn) == 0 || alpn[0] == "" {
		return append(dst, '0', '0')
	}
	p := alpn[0]
	f, l := p[0], p[len(p)-1]
	if f > 0x7f {
		f = '9'
	}
	if l > 0x7f {
		l = '9'
	}
	return append(dst, f, l)
}

const hexDigits = "0123456789abcdef"

func appendHexList(dst []byte, vs []uint16) []byte {
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
	}
	return dst
}

func appendTruncSHA(dst, b []byte) []byte {
	sum := sha256.Sum256(b)
	var h [64]byte
	hex.Encode(h[:], sum[:])
	return append(dst, h[:12]...)
}
