// Package sigma parses, compiles and evaluates Sigma detection rules
// (specification v2.1) against Mangrove events.
//
// Load (and Kind, for the detections registry) turns one YAML file into
// detections.Rules. Each rule is compiled once: wildcard patterns are
// lower-cased and classified (exact, prefix, suffix, contains, glob),
// regular expressions compiled, CIDR networks parsed, windash, base64 and
// UTF-16 variants expanded, and every Sigma field name resolved to the event
// field names that may hold it. Evaluating a rule that does not match an
// event allocates nothing.
//
// # Log sources and field names
//
// A Pipeline (pipeline.yml, embedded) maps a rule's logsource onto
// conditions an event must meet — windows/process_creation is Sysmon event
// 1 or Security event 4688, windows/security is the Security channel, and
// so on — and each Sigma field name onto candidate event fields, so that one
// rule matches the evtx-dump (Event.EventData.Image), NXLog (Image,
// NewProcessName) and Winlogbeat (winlog.event_data.Image) shapes of the same
// Windows event, and ECS names elsewhere (c-uri is also url.original). A
// field matches when any of its candidates matches. A rule whose log source
// the pipeline has no condition for (an unknown category, cloud products,
// Kernel-File ETW categories) is not held back: it runs on every event, and
// only its detection decides.
//
// # Matching
//
//   - A map is the AND of its items; a list of maps is an OR; a list of
//     values is an OR, or an AND under |all.
//   - Strings compare case-insensitively unless |cased; * and ? are
//     wildcards; \*, \? and \\ escape them, and any other backslash is
//     literal. Letters fold by ASCII when the pattern's letters are ASCII
//     and by Unicode simple folding otherwise.
//   - A YAML number matches a numeric event value of the same value, or a
//     string with the same text ("4688"); a YAML boolean likewise.
//   - null matches a field that is absent or null under every candidate;
//     an empty string value matches only an empty string.
//   - A list-valued event field matches when any element matches; under
//     |all, each value must be matched by some element.
//   - Keywords (field-less values) match as contains. They search the
//     pipeline's keyword fields (message, Message) when the event has one,
//     and every string value of the event otherwise, which is how Windows
//     events without a rendered message are searched.
//
// Modifiers: contains, startswith, endswith, all, windash, base64,
// base64offset, utf16le/wide, utf16be, utf16, expand (placeholder values
// from the pipeline; an undefined placeholder fails the rule), re with i, m
// and s, cidr, lt, lte, gt, gte, exists, cased, neq (negates the item, so it
// also holds when the field is absent) and fieldref (optionally with
// contains, startswith or endswith). Base64 forms compare case-sensitively.
// windash varies every hyphen, slash and dash of a value, as the
// specification says (pySigma varies only those that start a word). The time
// modifiers minute, hour, day, week (ISO), month and year compare that part
// of a timestamp field (RFC 3339 with T or a space, optional fraction and
// offset, a bare date, or Unix seconds) with a whole number, in the
// timestamp's own offset: no time zone is converted. Regular
// expressions use Go's RE2 syntax, which covers the Sigma subset; an
// expression RE2 cannot compile fails the rule.
//
// Conditions support and, or, not, parentheses, "1 of", "any of" and "all
// of" over a pattern or "them", with not binding tighter than and, and and
// tighter than or. Patterns are anchored at both ends. Sigma v1 aggregations
// (| count()) and near are rejected.
//
// # Documents
//
// A file may hold several YAML documents; each detection rule among them
// becomes a Rule. Load reads one file: correlation rules, filters and v1
// rule collections are skipped with an *UnsupportedError
// (errors.ErrUnsupported) so that a loader can count them. LoadSet (Kind's
// LoadAll) reads a whole pack at once and also runs correlations and
// filters, which refer to rules of any file of the set by id or name; v1
// collections stay unsupported. Files over MaxFileBytes or MaxNodes are
// rejected; every problem of a rule is reported at once with its YAML path
// and line.
//
// # Filters
//
// A filter document adds "and not <its condition>" to each rule its
// rules list names; the filter's selections compile like a detection under
// the filter's log source. The filtered rule's Version covers the filter.
//
// # Correlations
//
// A correlation is a *Correlation (detections.Rule, Ticker and Stateful)
// of type event_count, value_count, temporal, temporal_ordered, value_sum,
// value_avg or value_percentile. It evaluates the rules it refers to itself
// (nested correlations get their own state); those rules are not returned on
// their own unless the correlation says generate: true. group-by and the
// condition field resolve through the pipeline under each referred rule's
// log source, after aliases; a nested correlation's finding provides its own
// group-by values. Windows run on event time, with both ends inclusive; see
// Correlation for when each condition fires. State is bounded
// (DefaultMaxGroups, or SetMaxGroups, groups per correlation, the least
// recently updated evicted; MaxGroupEntries per group), counted in Stats,
// and survives a restart through
// Snapshot/Restore, or SaveState/RestoreState for a directory, which the
// process running the rules calls periodically and on shutdown.
//
// # Many rules at once
//
// A Set evaluates many detection rules with the findings each would give
// alone: it evaluates only the rules whose necessary literals and exact
// values all occur in the fields they read (case-folding literal scans of
// each field some rule reads, for the literals of the rules whose log
// source the event can belong to; hash lookups for exact values and
// numbers), and decides each log source condition at most once per event;
// for an event whose field names it has seen before (events of one source
// share a few such lists) the rules it evaluates find their fields by
// position instead of by name. See Set.
//
// Meta: ID is the rule id (or a hash of the path); Version hashes the
// logsource and detection, so it changes exactly when the logic does;
// Severity comes from level (medium when missing or unknown; a rule pack
// may override it with WithSeverity); Techniques are the attack.tNNNN[.NNN]
// tags, upper case. Eval emits one Finding per
// matching event, grouped by the host name when the event has one.
package sigma
