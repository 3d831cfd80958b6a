package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"
)

// route is one API operation: the handler and what the OpenAPI document says
// of it. The document is built from the route table, and a test checks that
// every documented path answers and every served path is documented.
type route struct {
	method, path string
	summary      string
	tag          string
	params       []param
	body         *bodySpec
	responses    map[int]respSpec
	public       bool   // no authentication (health, metrics, the document)
	perm         string // the auth.Permission the caller needs (every non-public route has one)
	handler      http.HandlerFunc
}

type param struct {
	name, in, typ, desc string
	required            bool
}

type bodySpec struct {
	contentType string
	desc        string
	schema      any // a Go value whose type gives the schema; nil for free-form
}

type respSpec struct {
	desc        string
	contentType string // default application/json
	schema      any
}

// schemaOf returns the JSON schema of a Go value's type, registering named
// struct types under components.
func schemaOf(t reflect.Type, comps map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeFor[json.RawMessage]():
		return map[string]any{"type": "object", "description": "an event in flat ECS form"}
	}
	if t.Implements(reflect.TypeFor[json.Marshaler]()) && t.Kind() == reflect.Struct {
		return map[string]any{"type": "object", "additionalProperties": true, "description": "a flat object of ECS dotted field names, with @timestamp, event.dataset and mangrove.* metadata"}
	}
	if t.Implements(reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), comps)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), comps)}
	case reflect.Struct:
		name := t.Name()
		if name != "" {
			if _, done := comps[name]; done {
				return map[string]any{"$ref": "#/components/schemas/" + name}
			}
			comps[name] = nil // break cycles
		}
		props := map[string]any{}
		var required []string
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			jname, opts, _ := strings.Cut(tag, ",")
			if jname == "" {
				jname = f.Name
			}
			props[jname] = schemaOf(f.Type, comps)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, jname)
			}
		}
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		if name == "" {
			return s
		}
		comps[name] = s
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// openAPI builds the OpenAPI 3.1 document of the routes.
func openAPI(routes []route, version string) map[string]any {
	comps := map[string]any{}
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		op := map[string]any{"summary": rt.summary, "operationId": strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "").Replace(rt.path)}
		if rt.tag != "" {
			op["tags"] = []string{rt.tag}
		}
		var ps []any
		for _, p := range rt.params {
			ps = append(ps, map[string]any{"name": p.name, "in": p.in, "required": p.required || p.in == "path",
				"description": p.desc, "schema": map[string]any{"type": p.typ}})
		}
		if len(ps) > 0 {
			op["parameters"] = ps
		}
		if rt.body != nil {
			var s any = map[string]any{"type": "string", "format": "binary"}
			if rt.body.schema != nil {
				s = schemaOf(reflect.TypeOf(rt.body.schema), comps)
			}
			op["requestBody"] = map[string]any{"required": true, "description": rt.body.desc,
				"content": map[string]any{rt.body.contentType: map[string]any{"schema": s}}}
		}
		resps := map[string]any{}
		for code, rs := range rt.responses {
			ct := rs.contentType
			if ct == "" {
				ct = "application/json"
			}
			var s any = map[string]any{"type": "string"}
			if rs.schema != nil {
				s = schemaOf(reflect.TypeOf(rs.schema), comps)
			}
			resps[itoa(code)] = map[string]any{"description": rs.desc, "content": map[string]any{ct: map[string]any{"schema": s}}}
		}
		if !rt.public {
			resps["401"] = map[string]any{"description": "missing or invalid bearer token",
				"content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeFor[errorBody](), comps)}}}
			op["security"] = []any{map[string]any{"bearer": []string{}}}
			op["x-permission"] = rt.perm
			if _, ok := resps["403"]; !ok {
				resps["403"] = map[string]any{"description": "the caller's role lacks permission " + rt.perm,
					"content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeFor[errorBody](), comps)}}}
			}
		}
		op["responses"] = resps
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Mangrove API", "version": version,
			"description": "Security-operations backend: events in, alerts and incidents out."},
		"paths": paths,
		"components": map[string]any{
			"schemas":         comps,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
