package esbulk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// Bulk actions.
const (
	opIndex  = "index"
	opCreate = "create"
	opUpdate = "update"
	opDelete = "delete"
)

// item is one action of a bulk request and, for index, create and update,
// its source line.
type item struct {
	op     string
	index  string // from the action's _index, else the path's index
	id     string // the action's _id, "" when absent
	source []byte // the document line, nil for delete and for refused items
	err    *esError
}

// esError is the error object of an Elasticsearch response.
type esError struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// requestError fails a whole bulk request, as Elasticsearch does for a
// malformed action line.
type requestError struct {
	status int
	esError
}

func (e *requestError) Error() string { return e.Type + ": " + e.Reason }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest,
		esError: esError{Type: "illegal_argument_exception", Reason: fmt.Sprintf(format, args...)}}
}

// actionMeta is the object inside an action line; other keys (pipeline,
// routing, require_alias, _type of old clients) are ignored.
type actionMeta struct {
	Index string `json:"_index"`
	ID    string `json:"_id"`
}

// parseBulk splits an NDJSON bulk body into items. defaultIndex is the index
// of the request path ("" for /_bulk). A malformed action line or too many
// actions fail the whole request (*requestError); a document line longer
// than lim.MaxLineBytes fails only its item. Blank lines are skipped and a
// final line without its newline is accepted. Source slices alias body.
func parseBulk(body []byte, defaultIndex string, lim Limits) ([]item, error) {
	lim = lim.withDefaults()
	var items []item
	line := 0
	next := func() ([]byte, bool) {
		for len(body) > 0 {
			var l []byte
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				l, body = body[:i], body[i+1:]
			} else {
				l, body = body, nil
			}
			line++
			if l = bytes.TrimSpace(l); len(l) > 0 {
				return l, true
			}
		}
		return nil, false
	}
	for {
		action, ok := next()
		if !ok {
			break
		}
		if len(items) == lim.MaxItems {
			return nil, &requestError{status: http.StatusRequestEntityTooLarge,
				esError: esError{Type: "illegal_argument_exception", Reason: fmt.Sprintf("more than %d actions in one bulk request", lim.MaxItems)}}
		}
		if len(action) > lim.MaxLineBytes {
			return nil, badRequest("action line [%d] of %d bytes is longer than %d bytes", line, len(action), lim.MaxLineBytes)
		}
		it, err := parseAction(action, line)
		if err != nil {
			return nil, err
		}
		if it.index == "" {
			it.index = defaultIndex
		}
		if it.op != opDelete {
			src, ok := next()
			if !ok {
				return nil, badRequest("action line [%d] %s has no document line", line, it.op)
			}
			if len(src) > lim.MaxLineBytes {
				it.err = &esError{Type: "illegal_argument_exception",
					Reason: fmt.Sprintf("document of %d bytes is larger than the limit of %d bytes", len(src), lim.MaxLineBytes)}
			} else {
				it.source = src
			}
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, &requestError{status: http.StatusBadRequest,
			esError: esError{Type: "action_request_validation_exception", Reason: "Validation Failed: 1: no requests added;"}}
	}
	return items, nil
}

// actionLine is an action line; exactly one field must be set. Unknown
// keys are ignored by encoding/json, so they show as "no action".
type actionLine struct {
	Index  *actionMeta `json:"index"`
	Create *actionMeta `json:"create"`
	Update *actionMeta `json:"update"`
	Delete *actionMeta `json:"delete"`
}

// parseAction reads one action line: an object with a single key, the
// action, whose value is the metadata object.
func parseAction(action []byte, line int) (item, error) {
	if len(action) == 0 || action[0] != '{' {
		return item{}, badRequest("Malformed action/metadata line [%d], expected START_OBJECT", line)
	}
	var a actionLine
	if err := json.Unmarshal(action, &a); err != nil {
		return item{}, badRequest("Malformed action/metadata line [%d]: %v", line, err)
	}
	var it item
	n := 0
	for _, c := range [...]struct {
		op   string
		meta *actionMeta
	}{{opIndex, a.Index}, {opCreate, a.Create}, {opUpdate, a.Update}, {opDelete, a.Delete}} {
		if c.meta != nil {
			n++
			it.op, it.index, it.id = c.op, c.meta.Index, c.meta.ID
		}
	}
	if n != 1 {
		return item{}, badRequest("Malformed action/metadata line [%d], expected exactly one of [create, delete, index, update], found %d", line, n)
	}
	return it, nil
}
