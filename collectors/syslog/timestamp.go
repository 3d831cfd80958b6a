package syslog

import "time"

// RFC 5424 timestamps are read here rather than by go-syslog, which hands
// every one to time.Parse (and allocates a time.Location for each
// non-UTC offset): that was a sixth of the time per message. The parser
// gives go-syslog a copy of the message whose TIMESTAMP is the NILVALUE
// and sets the time itself.
//
// Only messages whose header is exactly what the RFC 5424 grammar allows
// (as go-syslog's machine spells it: PRI, VERSION, then FULL-DATE "T"
// FULL-TIME with at most six fraction digits, upper-case T and Z, and a
// day that exists in its month) take this path; anything else goes to
// go-syslog whole, so its verdict and error messages are unchanged.
// FuzzTimestampFastPath checks that both paths yield the same event.

// rfc5424Timestamp finds the TIMESTAMP of an RFC 5424 message. It returns
// the byte range [start, end) of the timestamp and its instant in UTC; ok
// is false when the header is not plainly RFC 5424 or the timestamp is the
// NILVALUE or malformed.
func rfc5424Timestamp(raw []byte) (start, end int, t time.Time, ok bool) {
	// PRI: "<" 1*3DIGIT ">"; VERSION: NONZERO-DIGIT 0*2DIGIT; SP.
	if len(raw) < 4 || raw[0] != '<' {
		return 0, 0, time.Time{}, false
	}
	i := 1
	for i < len(raw) && i < 5 && isDigit(raw[i]) {
		i++
	}
	if i == 1 || i == 5 || i >= len(raw) || raw[i] != '>' {
		return 0, 0, time.Time{}, false
	}
	i++
	v := i
	for i < len(raw) && i-v < 4 && isDigit(raw[i]) {
		i++
	}
	if i == v || i-v > 3 || raw[v] == '0' || i >= len(raw) || raw[i] != ' ' {
		return 0, 0, time.Time{}, false
	}
	start = i + 1
	// FULL-DATE "T" HH:MM:SS: 19 bytes, then an optional fraction and the
	// offset, then SP.
	s := raw[start:]
	if len(s) < 21 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, 0, time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, 0, time.Time{}, false
	}
	j := 19
	nsec := 0
	if s[j] == '.' {
		j++
		f := j
		for j < len(s) && j-f < 7 && isDigit(s[j]) {
			nsec = nsec*10 + int(s[j]-'0')
			j++
		}
		n := j - f
		if n == 0 || n > 6 {
			return 0, 0, time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	offset := 0
	switch {
	case j < len(s) && s[j] == 'Z':
		j++
	case j+6 <= len(s) && (s[j] == '+' || s[j] == '-') && s[j+3] == ':':
		oh, okh := digits(s[j+1 : j+3])
		om, okm := digits(s[j+4 : j+6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, 0, time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if s[j] == '-' {
			offset = -offset
		}
		j += 6
	default:
		return 0, 0, time.Time{}, false
	}
	if j >= len(s) || s[j] != ' ' {
		return 0, 0, time.Time{}, false
	}
	secs := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return start, start + j, time.Unix(secs, int64(nsec)).UTC(), true
}

// daysSinceEpoch returns the days from 1970-01-01 to the given date of the
// proleptic Gregorian calendar (H. Hinnant's days_from_civil), as time.Date
// counts them, without its normalization work.
func daysSinceEpoch(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 { // year 0000 in January or February
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits returns the value of b, which must be all decimal digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days of month in year (proleptic
// Gregorian, as time.Parse checks it).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
