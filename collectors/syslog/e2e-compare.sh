#!/bin/bash
# e2e-compare.sh: end-to-end syslog throughput, Mangrove against rsyslog, in
# the same run. Both receive N RFC 5424 messages with octet counting over one
# TCP connection from syslog-blast (../shared/tools/syslog-blast); each run is
# timed from the sender's start until the last message is stored:
#   - rsyslog: imtcp -> RFC 5424 parsed -> JSON lines in a file (the reference
#     configuration in ../shared/tools/README.md);
#   - Mangrove: the syslog collector -> ECS events durably on an embedded
#     JetStream bus with fsync per batch (TestThroughputJetStream).
# Runs alternate between the two, ROUNDS times; the medians and their ratio
# are printed last.
#
# Usage: collectors/syslog/e2e-compare.sh [N] [ROUNDS]   (from the module root;
# needs rsyslogd, bc and the shared tools checkout)
set -euo pipefail
N=${1:-1000000}
ROUNDS=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BLAST_SRC=${BLAST_SRC:-$ROOT/../shared/tools/syslog-blast}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

(cd "$ROOT" && go test -c -o "$WORK/syslog.test" ./collectors/syslog)
(cd "$BLAST_SRC" && go build -o "$WORK/blast" .)
mkdir -p "$WORK/rs"
cat > "$WORK/rs/rs.conf" <<EOF
global(workDirectory="$WORK/rs")
module(load="imtcp" MaxSessions="100")
input(type="imtcp" port="45515" ruleset="r")
template(name="j" type="list" option.jsonf="on") {
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host.hostname" name="hostname" format="jsonf")
  property(outname="process.name" name="app-name" format="jsonf")
  property(outname="process.pid" name="procid" format="jsonf")
  property(outname="log.syslog.priority" name="pri" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}
ruleset(name="r") { action(type="omfile" file="$WORK/rs/out.json" template="j" asyncWriting="on" ioBufferSize="1m" flushOnTXEnd="off") }
EOF

now() { date +%s%N; }

rsyslog_run() {
	rm -f "$WORK/rs/out.json"
	rsyslogd -n -f "$WORK/rs/rs.conf" -i "$WORK/rs/rs.pid" 2>/dev/null &
	local pid=$!
	sleep 1
	local start end
	start=$(now)
	"$WORK/blast" -addr 127.0.0.1:45515 -n "$N" -marker "rs$RANDOM$RANDOM" >/dev/null
	while [ "$(wc -l < "$WORK/rs/out.json" 2>/dev/null || echo 0)" -lt "$N" ]; do sleep 0.005; done
	end=$(now)
	kill "$pid"; wait "$pid" 2>/dev/null || true
	echo $(( N * 1000000000 / (end - start) ))
}

mangrove_run() {
	# GOGC as `mangrove serve` sets it (runtime.gc_percent, default 400).
	GOGC=${GOGC:-400} MANGROVE_SYSLOG_E2E_ADDR=127.0.0.1:45514 MANGROVE_SYSLOG_E2E_N=$N \
		"$WORK/syslog.test" -test.run ThroughputJetStream -test.v > "$WORK/mg.out" 2>&1 &
	local pid=$!
	sleep 1.5
	local start end
	start=$(now)
	"$WORK/blast" -addr 127.0.0.1:45514 -n "$N" -marker "mg$RANDOM$RANDOM" >/dev/null
	wait "$pid"
	end=$(grep -o 'last ack at unix-ns [0-9]*' "$WORK/mg.out" | awk '{print $NF}')
	echo $(( N * 1000000000 / (end - start) ))
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

: > "$WORK/mg"; : > "$WORK/rsl"
for r in $(seq "$ROUNDS"); do
	m=$(mangrove_run); s=$(rsyslog_run)
	echo "round $r: mangrove $m msg/s, rsyslog $s msg/s"
	echo "$m" >> "$WORK/mg"; echo "$s" >> "$WORK/rsl"
done
M=$(median < "$WORK/mg"); S=$(median < "$WORK/rsl")
echo "median: mangrove $M msg/s, rsyslog $S msg/s, ratio $(echo "scale=2; $M / $S" | bc)"
