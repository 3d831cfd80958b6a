package report

import (
	_ "embed"
	"fmt"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"
)

// The embedded font: DejaVu Sans covers Vietnamese (see fonts/LICENSE).
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
)

const fontFamily = "DejaVu"

// Page geometry in millimetres: A4 with the margins of Decree 30/2020/NĐ-CP.
const (
	marginLeft   = 30.0
	marginTop    = 20.0
	marginRight  = 15.0
	marginBottom = 20.0

	sizeBody  = 11.0 // points
	sizeSmall = 9.0
	lineBody  = 5.4 // line height for sizeBody
	lineSmall = 4.4
	cellPad   = 0.8 // vertical padding inside table cells
)

// pdfWriter lays a document out on fpdf pages.
type pdfWriter struct {
	f             *fpdf.Fpdf
	width, bottom float64 // text width; lowest y text may reach
}

// renderPDF writes doc as an A4 PDF. Its creation date is the document
// date, not the clock, so the same document renders to the same bytes.
func renderPDF(w io.Writer, doc *document) error {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(marginLeft, marginTop, marginRight)
	f.SetAutoPageBreak(true, marginBottom)
	f.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	f.AddUTF8FontFromBytes(fontFamily, "B", fontBold)
	f.SetTitle(doc.MetaTitle, true)
	f.SetAuthor(doc.Author, true)
	f.SetCreator("Mangrove", true)
	f.SetLang("vi-VN")
	f.SetCatalogSort(true)
	f.SetCreationDate(doc.Date)
	f.SetModificationDate(doc.Date)
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(func() {
		f.SetY(-12)
		f.SetFont(fontFamily, "", 8)
		f.CellFormat(0, 4, fmt.Sprintf("Trang %d/{nb}", f.PageNo()), "", 0, "C", false, 0, "")
	})
	pageW, pageH := f.GetPageSize()
	p := &pdfWriter{f: f, width: pageW - marginLeft - marginRight, bottom: pageH - marginBottom}
	f.AddPage()
	p.heading(doc)
	for _, b := range doc.Blocks {
		if f.Err() {
			break
		}
		switch b.Kind {
		case blockHeading:
			p.sectionHeading(b)
		case blockParagraph:
			f.SetFont(fontFamily, "", sizeBody)
			f.MultiCell(p.width, lineBody, b.Text, "", "J", false)
		case blockFields:
			p.fields(b.Fields)
		case blockTable:
			p.table(b.Table)
		}
	}
	p.signature(doc)
	if err := f.Error(); err != nil {
		return fmt.Errorf("laying out the PDF: %w", err)
	}
	if err := f.Output(w); err != nil {
		return fmt.Errorf("writing the PDF: %w", err)
	}
	return nil
}

// centered writes text centred in the column [x, x+w) from y down and
// returns the y below it.
func (p *pdfWriter) centered(x, y, w float64, style string, size float64, text string) float64 {
	if text == "" {
		return y
	}
	p.f.SetFont(fontFamily, style, size)
	p.f.SetXY(x, y)
	p.f.MultiCell(w, lineBody, text, "", "C", false)
	return p.f.GetY()
}

// rule draws a short line centred under a heading column, as administrative
// documents do under the sender's name and the motto.
func (p *pdfWriter) rule(x, y, w, length float64) {
	p.f.SetLineWidth(0.3)
	p.f.Line(x+(w-length)/2, y+0.5, x+(w+length)/2, y+0.5)
}

// heading writes the form label, the two heading columns, title, recipient
// and legal basis.
func (p *pdfWriter) heading(doc *document) {
	f := p.f
	if doc.Form != "" {
		f.SetFont(fontFamily, "", sizeSmall)
		f.MultiCell(p.width, lineSmall, doc.Form, "", "R", false)
	}
	const leftW = 70.0
	x0, y0 := marginLeft, f.GetY()
	rightX, rightW := x0+leftW, p.width-leftW

	yl := p.centered(x0, y0, leftW, "", sizeBody-1, doc.Parent)
	yl = p.centered(x0, yl, leftW, "B", sizeBody-1, doc.Sender)
	p.rule(x0, yl, leftW, 25)
	yl = p.centered(x0, yl+1.5, leftW, "", sizeBody-1, doc.Number)

	yr := p.centered(rightX, y0, rightW, "B", sizeBody-1, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
	yr = p.centered(rightX, yr, rightW, "B", sizeBody, "Độc lập - Tự do - Hạnh phúc")
	p.rule(rightX, yr, rightW, 60)
	yr = p.centered(rightX, yr+1.5, rightW, "", sizeBody-1, doc.PlaceDate)

	y := max(yl, yr) + 6
	y = p.centered(marginLeft, y, p.width, "B", 13, doc.Title)
	y = p.centered(marginLeft, y, p.width, "B", sizeBody, doc.Subtitle)
	y = p.centered(marginLeft, y+3, p.width, "", sizeBody, "Kính gửi: "+strings.Join(doc.Recipients, "; "))
	f.SetXY(marginLeft, y+3)
	f.SetFont(fontFamily, "", sizeBody)
	for _, l := range doc.Basis {
		f.MultiCell(p.width, lineBody, l, "", "J", false)
	}
	f.Ln(2)
}

// sectionHeading writes a part or item heading, moving to a new page first
// when fewer than three lines would follow it on this one.
func (p *pdfWriter) sectionHeading(b block) {
	f := p.f
	gap := 1.0
	if b.Level == 1 {
		gap = 2.5
	}
	if f.GetY()+gap+3*lineBody > p.bottom {
		f.AddPage()
	} else {
		f.Ln(gap)
	}
	f.SetFont(fontFamily, "B", sizeBody)
	f.MultiCell(p.width, lineBody, b.Text, "", "L", false)
}

// fields writes "Label: value" lines, the label in bold.
func (p *pdfWriter) fields(fs []field) {
	f := p.f
	for _, fl := range fs {
		f.SetX(marginLeft)
		f.SetFont(fontFamily, "B", sizeBody)
		f.Write(lineBody, "- "+fl.Label+": ")
		f.SetFont(fontFamily, "", sizeBody)
		f.Write(lineBody, fl.Value)
		f.Ln(lineBody)
	}
}

// table writes a bordered table with a grey header row that repeats on every
// page the table spans. Long rows are split across pages line by line.
func (p *pdfWriter) table(t *table) {
	f := p.f
	var total float64
	for _, c := range t.Columns {
		total += c.Weight
	}
	widths := make([]float64, len(t.Columns))
	titles := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		widths[i] = p.width * c.Weight / total
		titles[i] = c.Title
	}
	header := func() { p.row(widths, titles, true, nil) }
	if f.GetY()+4*lineSmall > p.bottom {
		f.AddPage()
	}
	f.Ln(1)
	header()
	if len(t.Rows) == 0 {
		p.row([]float64{p.width}, []string{t.Empty}, false, header)
	}
	for _, r := range t.Rows {
		p.row(widths, r, false, header)
	}
	f.Ln(2)
}

// row writes one table row. A row that does not fit below the cursor moves
// to the next page (after header) when it would fit on a page of its own,
// and is split across pages otherwise.
func (p *pdfWriter) row(widths []float64, cells []string, head bool, header func()) {
	f := p.f
	style, fill := "", false
	if head {
		style, fill = "B", true
		f.SetFillColor(230, 230, 230)
	}
	f.SetFont(fontFamily, style, sizeSmall)
	lines := make([][]string, len(widths))
	n := 1
	for i, w := range widths {
		if i < len(cells) {
			lines[i] = f.SplitText(cells[i], w)
		}
		n = max(n, len(lines[i]))
	}
	_, pageH := f.GetPageSize()
	pageLines := int((pageH - marginTop - marginBottom - 2*cellPad - 3*lineSmall) / lineSmall)
	for start := 0; start < n; {
		k := int((p.bottom - f.GetY() - 2*cellPad) / lineSmall)
		if k < 1 || (start == 0 && k < n && n <= pageLines) {
			f.AddPage()
			if header != nil {
				header()
				f.SetFont(fontFamily, style, sizeSmall)
			}
			continue
		}
		chunk := min(k, n-start)
		h := float64(chunk)*lineSmall + 2*cellPad
		x, y := marginLeft, f.GetY()
		for i, w := range widths {
			if fill {
				f.Rect(x, y, w, h, "FD")
			} else {
				f.Rect(x, y, w, h, "D")
			}
			align := "L"
			if head || len(widths) == 1 {
				align = "C"
			}
			for j := start; j < start+chunk && j < len(lines[i]); j++ {
				f.SetXY(x, y+cellPad+float64(j-start)*lineSmall)
				f.CellFormat(w, lineSmall, lines[i][j], "", 0, align, false, 0, "")
			}
			x += w
		}
		f.SetXY(marginLeft, y+h)
		start += chunk
	}
}

// signature writes "Nơi nhận" on the left and the signature block on the
// right, on a new page if they would not fit on this one.
func (p *pdfWriter) signature(doc *document) {
	f := p.f
	need := 50.0 + float64(len(doc.CC))*lineSmall
	if f.GetY()+need > p.bottom {
		f.AddPage()
	} else {
		f.Ln(6)
	}
	const leftW = 80.0
	y0 := f.GetY()
	f.SetXY(marginLeft, y0)
	f.SetFont(fontFamily, "B", sizeSmall+1)
	f.MultiCell(leftW, lineSmall, "Nơi nhận:", "", "L", false)
	f.SetFont(fontFamily, "", sizeSmall)
	for _, c := range doc.CC {
		f.SetX(marginLeft)
		f.MultiCell(leftW, lineSmall, "- "+c, "", "L", false)
	}
	yl := f.GetY()
	rightX, rightW := marginLeft+leftW, p.width-leftW
	yr := p.centered(rightX, y0, rightW, "B", sizeBody, doc.SignerTitle)
	yr = p.centered(rightX, yr, rightW, "", sizeSmall, doc.SignNote)
	yr = p.centered(rightX, yr+22, rightW, "B", sizeBody, doc.SignerName)
	f.SetXY(marginLeft, max(yl, yr))
}
