package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/mangrove-soc/mangrove/detections/exception"
	"github.com/mangrove-soc/mangrove/internal/store"
)

// ExceptionRequest is the body of POST /api/v1/exceptions. Give Expires or
// TTL. The tenant is the caller's: an agency's officer creates exceptions for
// that agency only; a center-wide analyst's apply to every tenant.
type ExceptionRequest struct {
	RuleID  string              `json:"rule_id"`
	Match   map[string][]string `json:"match"`
	Owner   string              `json:"owner"`
	Reason  string              `json:"reason"`
	Expires time.Time           `json:"expires,omitzero"`
	TTL     string              `json:"ttl,omitempty"` // e.g. "720h"
}

// ReloadResult answers POST /api/v1/rules/reload.
type ReloadResult struct {
	Rules  int      `json:"rules"`
	Files  int      `json:"files"`
	Errors []string `json:"errors,omitempty"`
}

func (s *Server) exceptionRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/exceptions", tag: "rules", perm: "rules.read", summary: "List rule exceptions visible to the caller (active ones; all=true adds expired and revoked)",
			params:    []param{{name: "all", in: "query", typ: "boolean", desc: "include expired and revoked exceptions"}},
			responses: map[int]respSpec{200: {desc: "exceptions", schema: []exception.Exception{}}}, handler: s.handleExceptions},
		{method: "POST", path: "/api/v1/exceptions", tag: "rules", perm: "rules.write", summary: "Suppress a rule's alerts for given field values, with an owner, a reason and an expiry (audited)",
			body: &bodySpec{contentType: "application/json", schema: ExceptionRequest{}},
			responses: map[int]respSpec{201: {desc: "the exception", schema: exception.Exception{}},
				400: {desc: "invalid exception", schema: errorBody{}}}, handler: s.handleCreateException},
		{method: "DELETE", path: "/api/v1/exceptions/{id}", tag: "rules", perm: "rules.write", summary: "Revoke an exception before it expires (audited)",
			params: []param{{name: "id", in: "path", typ: "string"}},
			responses: map[int]respSpec{200: {desc: "the revoked exception", schema: exception.Exception{}},
				404: {desc: "no such active exception", schema: errorBody{}}}, handler: s.handleRevokeException},
		{method: "POST", path: "/api/v1/rules/reload", tag: "rules", perm: "rules.write", summary: "Reload the rule packs from disk without dropping events",
			responses: map[int]respSpec{200: {desc: "what was loaded", schema: ReloadResult{}}, 403: {desc: "only center analysts reload rules", schema: errorBody{}}},
			handler:   s.handleReload},
	}
}

func (s *Server) handleExceptions(w http.ResponseWriter, r *http.Request) {
	tenant, ok := readScope(w, r)
	if !ok {
		return
	}
	list, err := s.deps.Store.Exceptions(r.Context(), tenant, r.URL.Query().Get("all") == "true")
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleCreateException(w http.ResponseWriter, r *http.Request) {
	tenant, ok := readScope(w, r)
	if !ok {
		return
	}
	var req ExceptionRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "decoding body: "+err.Error())
		return
	}
	now := time.Now().UTC()
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || !req.Expires.IsZero() {
			writeError(w, http.StatusBadRequest, "ttl: want a duration like 720h, and not together with expires")
			return
		}
		req.Expires = now.Add(d)
	}
	p := principal(r)
	e := exception.Exception{ID: exception.NewID(), Tenant: tenant, RuleID: req.RuleID, Match: req.Match, Owner: req.Owner,
		Reason: req.Reason, Expires: req.Expires.UTC(), Created: now, CreatedBy: p.Actor()}
	if err := e.Validate(now); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.createException(w, r, e, p.Actor())
}

// createException stores a validated exception, has detection apply it, and
// answers 201 with it.
func (s *Server) createException(w http.ResponseWriter, r *http.Request, e exception.Exception, actor string) {
	if err := s.deps.Store.CreateException(r.Context(), e, actor); err != nil {
		s.internalError(w, r, err)
		return
	}
	if err := s.deps.ExceptionsChanged(r.Context()); err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

func (s *Server) handleRevokeException(w http.ResponseWriter, r *http.Request) {
	tenant, ok := readScope(w, r)
	if !ok {
		return
	}
	e, err := s.deps.Store.RevokeException(r.Context(), tenant, r.PathValue("id"), principal(r).Actor())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no active exception "+r.PathValue("id"))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if err := s.deps.ExceptionsChanged(r.Context()); err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	tenant, ok := readScope(w, r)
	if !ok {
		return
	}
	if tenant != "" {
		writeError(w, http.StatusForbidden, "only center-wide analysts reload rules")
		return
	}
	res, err := s.deps.ReloadRules(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
