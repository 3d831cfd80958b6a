package report

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// document is the renderer-neutral form of a report: the builders fill it
// from an Input or SummaryInput and the HTML and PDF renderers walk it, so
// both formats always say the same thing.
type document struct {
	// Form is the form label printed in the top right corner ("Mẫu số
	// 03"); empty for none.
	Form string
	// Parent is the governing body printed above the sender (may be
	// empty); Sender is the sending organisation; Number the document
	// number line ("Số: …").
	Parent, Sender, Number string
	// PlaceDate is "Cà Mau, ngày 25 tháng 11 năm 2026".
	PlaceDate string
	// Title is the document title (printed in capitals) and Subtitle the
	// line under it.
	Title, Subtitle string
	// Recipients follow "Kính gửi:".
	Recipients []string
	// Basis holds the legal basis lines ("Căn cứ …").
	Basis []string
	// Blocks is the body, in order.
	Blocks []block
	// CC is the "Nơi nhận" list; SignerTitle, SignerName and SignNote form
	// the signature block.
	CC                                []string
	SignerTitle, SignerName, SignNote string
	// Author and MetaTitle go to the PDF metadata and the HTML <title>;
	// Date is the document date.
	Author, MetaTitle string
	Date              time.Time
}

// blockKind says what a block holds.
type blockKind int

const (
	blockHeading   blockKind = iota + 1 // Text, Level 1 (part) or 2 (item)
	blockParagraph                      // Text, may hold newlines
	blockFields                         // Fields: label and value lines
	blockTable                          // Table
)

// block is one piece of the body.
type block struct {
	Kind   blockKind
	Level  int
	Text   string
	Fields []field
	Table  *table
}

// IsHeading and the other Is methods let the HTML template switch on the kind.
func (b block) IsHeading() bool   { return b.Kind == blockHeading }
func (b block) IsParagraph() bool { return b.Kind == blockParagraph }
func (b block) IsFields() bool    { return b.Kind == blockFields }
func (b block) IsTable() bool     { return b.Kind == blockTable }

// Lines splits a paragraph at its newlines.
func (b block) Lines() []string { return strings.Split(b.Text, "\n") }

// field is one "Label: value" line.
type field struct {
	Label, Value string
}

// column is a table column: its title and its share of the table width.
type column struct {
	Title  string
	Weight float64
}

// table is a grid of text. Empty is printed in a single row when Rows is
// empty.
type table struct {
	Columns []column
	Rows    [][]string
	Empty   string
}

// builder appends blocks to a document and numbers its parts and items.
type builder struct {
	doc          *document
	nPart, nItem int
}

// part starts a numbered part ("I. …") and resets the item counter.
func (b *builder) part(title string) {
	b.nPart++
	b.nItem = 0
	b.doc.Blocks = append(b.doc.Blocks, block{Kind: blockHeading, Level: 1, Text: roman(b.nPart) + ". " + title})
}

// item starts a numbered item ("1. …") inside the current part.
func (b *builder) item(title string) {
	b.nItem++
	b.doc.Blocks = append(b.doc.Blocks, block{Kind: blockHeading, Level: 2, Text: strconv.Itoa(b.nItem) + ". " + title})
}

// para adds a paragraph; a blank one prints notAvailable.
func (b *builder) para(text string) {
	b.doc.Blocks = append(b.doc.Blocks, block{Kind: blockParagraph, Text: orNA(text)})
}

// fields adds label/value lines; blank values print notAvailable.
func (b *builder) fields(fs ...field) {
	for i := range fs {
		fs[i].Value = orNA(fs[i].Value)
	}
	b.doc.Blocks = append(b.doc.Blocks, block{Kind: blockFields, Fields: fs})
}

// Size limits that keep a document printable: a table lists at most
// maxTableRows rows and then says how many it left out; a text longer than
// maxTextRunes is cut with an ellipsis.
const (
	maxTableRows = 1000
	maxTextRunes = 20000
)

// table adds a table, cut to maxTableRows rows with a closing row that says
// how many were left out.
func (b *builder) table(t *table) {
	if t.Empty == "" {
		t.Empty = notAvailable
	}
	if n := len(t.Rows); n > maxTableRows && len(t.Columns) >= 2 {
		t.Rows = t.Rows[:maxTableRows:maxTableRows]
		note := make([]string, len(t.Columns))
		note[0] = "…"
		note[1] = "Còn " + strconv.Itoa(n-maxTableRows) + " mục khác không liệt kê trong văn bản này"
		t.Rows = append(t.Rows, note)
	}
	b.doc.Blocks = append(b.doc.Blocks, block{Kind: blockTable, Table: t})
}

// clean makes caller text safe for both renderers: it is cut to
// maxTextRunes, invalid UTF-8 becomes
// U+FFFD, characters outside the Basic Multilingual Plane (which the PDF
// font code cannot index) become U+FFFD, tabs become spaces and other
// control characters except newline are dropped; CRLF becomes LF.
func clean(s string) string {
	s = clip(strings.ToValidUTF8(s, "\uFFFD"), maxTextRunes)
	if !strings.ContainsFunc(s, needsCleaning) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\t':
			b.WriteByte(' ')
		case r > 0xFFFF:
			b.WriteRune('\uFFFD')
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsCleaning(r rune) bool { return r > 0xFFFF || (r != '\n' && unicode.IsControl(r)) }

// sanitize cleans every text of the document in place.
func (d *document) sanitize() {
	for _, p := range []*string{&d.Form, &d.Parent, &d.Sender, &d.Number, &d.PlaceDate, &d.Title, &d.Subtitle,
		&d.SignerTitle, &d.SignerName, &d.SignNote, &d.Author, &d.MetaTitle} {
		*p = clean(*p)
	}
	for _, l := range [][]string{d.Recipients, d.Basis, d.CC} {
		for i := range l {
			l[i] = clean(l[i])
		}
	}
	for i := range d.Blocks {
		bl := &d.Blocks[i]
		bl.Text = clean(bl.Text)
		for j := range bl.Fields {
			bl.Fields[j].Label, bl.Fields[j].Value = clean(bl.Fields[j].Label), clean(bl.Fields[j].Value)
		}
		if bl.Table != nil {
			bl.Table.Empty = clean(bl.Table.Empty)
			for j := range bl.Table.Columns {
				bl.Table.Columns[j].Title = clean(bl.Table.Columns[j].Title)
			}
			for _, row := range bl.Table.Rows {
				for j := range row {
					row[j] = clean(row[j])
				}
			}
		}
	}
}
