package report

import (
	"embed"
	"html/template"
	"io"
)

//go:embed templates/document.html.tmpl
var templateFS embed.FS

// page is the one HTML template every document goes through; html/template
// escapes every text it prints.
var page = template.Must(template.ParseFS(templateFS, "templates/document.html.tmpl"))

// renderHTML writes doc as one self-contained HTML page.
func renderHTML(w io.Writer, doc *document) error {
	return page.ExecuteTemplate(w, "document.html.tmpl", doc)
}
