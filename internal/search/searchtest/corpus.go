package searchtest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/mangrove-soc/mangrove/collectors/event"
	"github.com/mangrove-soc/mangrove/internal/search/kql"
)

// Base is the time of the newest event of Corpus; older events go back
// three days in steps of 7 minutes 13 seconds, so every time is distinct.
var Base = time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)

const step = 7*time.Minute + 13*time.Second

// Tenants of the Corpus events.
var Tenants = []string{"acme", "globex", "initech"}

func s(v string) event.Value          { return event.StringValue(v) }
func n(f float64) event.Value         { return event.NumberValue(f) }
func l(vs ...event.Value) event.Value { return event.Value{Kind: event.List, List: vs} }

// numLit is a number as the decoder makes it: the literal and its float.
func numLit(lit string) event.Value {
	f, _ := strconv.ParseFloat(lit, 64)
	return event.Value{Kind: event.Number, Num: f, Str: lit}
}

var (
	messages = []event.Value{
		s("An account failed to log on. Logon-Failed for user ADMIN"),
		s("An account was successfully logged on"),
		s("PowerShell.exe -enc SQBFAFgA started by svc_backup"),
		s("Connection from 10.0.0.5:445 refused; retry=3"),
		s("Ärger im Büro: café crème, naïve résumé ÉTÉ"),
		s("multi\nline\ttext with \"quotes\" and \\backslashes\\"),
		l(s("first part"), s("second Part")),
		l(s("solo"), n(42), event.Value{Kind: event.Null}),
		n(12345),
		s(""),
		s("logon logon LOGON failed"),
		s("powershell_ise.exe spawned cmd.exe /c whoami"),
	}
	ips        = []string{"10.0.0.5", "10.0.0.6", "192.168.1.20", "fe80::1", "10.0.0.50"}
	procs      = []string{"PowerShell.exe", "powershell.exe", "cmd.exe", "rundll32.exe", "C:\\Windows\\System32\\svchost.exe", "POWERSHELL_ISE.EXE", "p*wer?.exe", "[brackets].exe"}
	actions    = []string{"logon-failed", "logon", "process-start", "Logon-Failed", "network-connection"}
	users      = []string{"alice", "bob", "Admin", "svc_backup", "ÉMILE", "o'brien"}
	datasets   = []string{"windows.security", "windows.sysmon", "dns", "flow"}
	codeValues = []event.Value{n(4625), s("4625"), n(4624), s("4624"), numLit("4625.0"), l(n(1), n(4625)), l(s("x"), s("4688")), n(-1), numLit("1e3")}
	byteValues = []event.Value{n(0), n(100), n(150.5), n(-20), numLit("9007199254740993"), s("200"), l(n(5), n(500)), n(1000)}
)

// Corpus returns size events spread over Tenants and three days, with
// strings, numbers, booleans, nulls, lists, odd field names and messages
// that exercise every kind of condition. It is deterministic.
func Corpus(size int) []event.Event {
	r := rand.New(rand.NewPCG(1, uint64(size)))
	evs := make([]event.Event, size)
	for i := range evs {
		ev := &evs[i]
		ev.Time = Base.Add(-time.Duration(i) * step)
		ev.Tenant = Tenants[r.IntN(len(Tenants))]
		ev.ID = event.NewID(ev.Tenant, []byte(fmt.Sprintf("corpus-%d-%d", size, i)))
		ev.Source = "searchtest"
		if r.IntN(10) > 0 {
			ev.Dataset = datasets[r.IntN(len(datasets))]
		}
		set := func(p int, name string, v event.Value) {
			if r.IntN(100) < p {
				ev.Set(name, v)
			}
		}
		set(90, "message", messages[r.IntN(len(messages))])
		set(80, "source.ip", s(ips[r.IntN(len(ips))]))
		set(50, "destination.ip", l(s(ips[r.IntN(len(ips))]), s(ips[r.IntN(len(ips))])))
		set(70, "process.name", s(procs[r.IntN(len(procs))]))
		set(70, "event.action", s(actions[r.IntN(len(actions))]))
		set(70, "event.code", codeValues[r.IntN(len(codeValues))])
		set(60, "network.bytes", byteValues[r.IntN(len(byteValues))])
		set(50, "user.name", s(users[r.IntN(len(users))]))
		set(15, "user.name", event.Value{Kind: event.Null})
		set(30, "event.outcome_ok", event.BoolValue(r.IntN(2) == 0))
		set(30, "tags", l(s("mordor"), s([]string{"lab", "prod", "Lab"}[r.IntN(3)])))
		set(20, "tags.empty", event.Value{Kind: event.List})
		set(30, "file.created", s(Base.Add(-time.Duration(r.IntN(5000))*time.Minute).Format(time.RFC3339)))
		set(20, `odd"key`, s("quoted"))
		set(20, `back\slash`, s("yes"))
		set(20, "ünï.códe", s("ünï"))
		if ev.Dataset == "" {
			// A non-string event.dataset stays a field (Dataset is empty).
			set(50, "event.dataset", l(s("nested"), s("dataset")))
		}
	}
	return evs
}

// Queries are hand-written queries covering the language; Run checks each
// against Memory's answer.
var Queries = []string{
	``, `*`, `source.ip:10.0.0.5`, `source.ip:10.0.0.5 AND event.action:"logon-failed"`,
	`source.ip:fe80::1`, `destination.ip:10.0.0.6`, `destination.ip:10.0.0.*`, `source.ip:10.0.0.?`,
	`event.action:logon*`, `event.action:LOGON*`, `event.action:Logon-Failed`, `event.action:logon?failed`,
	`process.name:power*`, `process.name:*.EXE`, `process.name:*\\svchost.exe`, `process.name:p\*wer\?.exe`,
	`process.name:p*wer?.exe`, `process.name:\[brackets\]*`, `process.name:"[brackets].exe"`,
	`event.code:4625`, `event.code:"4625"`, `event.code:4625.0`, `event.code:4688`, `event.code:x`,
	`event.code:1000`, `event.code:1e3`, `event.code:-1`, `event.code:(4624 or 1)`, `event.code:(4625 and 1)`,
	`network.bytes > 100`, `network.bytes >= 100`, `network.bytes < 0`, `network.bytes <= 150.5`,
	`network.bytes:[100 TO 1000}`, `network.bytes:{* TO 0]`, `network.bytes > "150"`, `network.bytes:9007199254740993`,
	`network.bytes > 9007199254740992`, `network.bytes:200`, `network.bytes:>499`,
	`user.name:*`, `NOT user.name:*`, `user.name:alice`, `user.name:ÉMILE`, `user.name:émile*`, `user.name:"o'brien"`,
	`user.name:(alice or bob) AND NOT event.code:4625`, `event.outcome_ok:true`, `event.outcome_ok:false`,
	`tags:lab`, `tags:Lab`, `tags:LAB*`, `tags:*`, `tags.empty:*`, `NOT tags.empty:*`,
	`file.created >= 2026-11-24T00:00:00Z`, `file.created < 2026-11-23`,
	`@timestamp >= 2026-11-24T12:00:00Z`, `@timestamp < 2026-11-24`, `@timestamp:[2026-11-23 TO 2026-11-24]`,
	`@timestamp > 2026-11-24T00:00:00+05:00 AND @timestamp <= 2026-11-25T01:02:03.5Z`,
	`event.dataset:dns`, `event.dataset:nested`, `event.dataset:*`, `NOT event.dataset:dns`, `event.dataset:windows*`,
	`mangrove.tenant:acme`, `mangrove.source:searchtest`, `mangrove.id:*`,
	`odd\"key:quoted`, `NOT odd\"key:quoted`, `back\\slash:yes`, `ünï.códe:ünï`,
	`failed`, `FAILED`, `fail`, `fail*`, `"logon failed"`, `logon-failed`, `"failed logon"`, `logon logon`,
	`"log on"`, `message:"failed to log"`, `"part second"`, `p?rt`, `*wer*`, `pow*ll`, `power*`, `"powershell"`,
	`café`, `CAFÉ`, `ärger`, `Ärger`, `résumé*`, `solo`, `42`, `12345`, `quotes`, `"\"quotes\""`, `backslashes`,
	`10.0.0.5`, `retry 3`, `message:*`, `NOT message:*`, `message:power*`,
	`account -failed`, `account AND NOT failed`, `account OR part`, `(failed OR logged) AND network.bytes < 200`,
	`not (source.ip:10.0.0.5 or event.code:4625)`, `-fail* AND process.name:*`, `NOT *wer*`,
	`user.name:Admin OR (tags:prod AND NOT failed)`, `missing.field:x`, `NOT missing.field:x`,
}

// RandomQuery returns a random query over Corpus's fields and values.
func RandomQuery(r *rand.Rand) kql.Node { return randomNode(r, 2) }

var (
	randFields = []string{"source.ip", "destination.ip", "process.name", "event.action", "event.code",
		"network.bytes", "user.name", "event.outcome_ok", "tags", "event.dataset", "mangrove.tenant",
		"file.created", "missing"}
	randValues = []string{"10.0.0.5", "fe80::1", "PowerShell.exe", "cmd.exe", "logon", "logon-failed",
		"4625", "4624", "1", "x", "100", "150.5", "-20", "200", "alice", "Admin", "true", "false", "lab",
		"dns", "acme", "2026-11-24T10:00:00Z", "", "1000"}
	randPatterns = []string{"power*", "*.exe", "10.0.0.?", "log*", "*a*", "?", "*", "LOGON*", "*failed", "p*w*r*"}
	randWords    = []string{"failed", "logon", "account", "powershell", "part", "cmd", "exe", "10", "ärger", "x"}
)

func randomNode(r *rand.Rand, depth int) kql.Node {
	k := r.IntN(12)
	if depth == 0 {
		k = 3 + r.IntN(7)
	}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	switch k {
	case 0, 1:
		nodes := make([]kql.Node, 2+r.IntN(2))
		for i := range nodes {
			nodes[i] = randomNode(r, depth-1)
		}
		if k == 0 {
			return kql.And{Nodes: nodes}
		}
		return kql.Or{Nodes: nodes}
	case 2:
		return kql.Not{Node: randomNode(r, depth-1)}
	case 3, 4:
		return kql.Term{Field: pick(randFields), Value: pick(randValues)}
	case 5:
		return kql.Wildcard{Field: pick(randFields), Pattern: pick(randPatterns)}
	case 6:
		return kql.Exists{Field: pick(randFields)}
	case 7:
		if r.IntN(4) == 0 {
			t := Base.Add(-time.Duration(r.IntN(4000)) * time.Minute).Format(time.RFC3339)
			return kql.Range{Field: kql.TimeField, Op: kql.Op(1 + r.IntN(4)), Value: t}
		}
		return kql.Range{Field: pick(randFields), Op: kql.Op(1 + r.IntN(4)), Value: pick(randValues)}
	case 8:
		words := make([]string, 1+r.IntN(2))
		for i := range words {
			words[i] = pick(randWords)
		}
		return kql.Text{Value: strings.Join(words, " ")}
	case 9:
		return kql.Text{Value: pick([]string{"fail*", "pow*", "*er", "l?gon", "p*t"}), Wildcard: true}
	}
	if r.IntN(2) == 0 {
		return kql.Term{Field: pick(randFields[:5]), Value: pick(randValues[:8])}
	}
	return kql.Wildcard{Field: pick(randFields[:5]), Pattern: pick(randPatterns[:5])}
}
