// Package report renders the documents a provincial SOC sends to Vietnamese
// authorities about incidents, as HTML or PDF:
//
//   - Render: one incident's notice (Thông báo sự cố, TT 20/2017 Art.
//     9(3)(a)), initial report (Form 03, QĐ 05/2017 Art. 11(4)), 72-hour
//     report on cause, scope and remediation (Decree 331/2026 Art.
//     31(2)(d)), closing report (Form 04), and personal-data breach notice
//     (Form 08 of Decree 356/2025, content of its Art. 28(1));
//   - Summarize and RenderSummary: incident statistics of a quarter or a
//     year (counts, MTTA/MTTC/MTTR) and the summary report built on them.
//
// Every document is first built as one renderer-neutral structure (headings,
// paragraphs, label/value lines, tables) that both the HTML renderer
// (html/template, everything escaped) and the PDF renderer (fpdf with an
// embedded DejaVu Sans, which covers Vietnamese) walk, so the two formats
// say the same thing. Texts are in Vietnamese with the legal terms of
// docs/domain-vn.md; times print as dd/mm/yyyy HH:MM in Vietnam time
// (Asia/Ho_Chi_Minh). Optional fields left blank print "Chưa có thông tin".
// Rendering reads no clock: the document date is the input's GeneratedAt,
// so the same input renders to the same bytes.
package report
