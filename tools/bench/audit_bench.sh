#!/usr/bin/env bash
# The audit benchmark of issue #5 (see tools/bench/README.md): read-by-id throughput with
# `--audit on` against `--audit off`, in the same run. Builds nothing: it takes the release
# fhir-server, starts one server of each kind on free loopback ports with fresh databases in a
# temporary directory, and runs interleaved wrk rounds of GET [base]/Patient/ID against each.
#
# The audit log works in two steps (server/audit/audit.h): each batch of AuditEvents is first
# appended to the store's journal (durable from then on), and becomes AuditEvent resources with
# their search index when the server is idle or an AuditEvent is asked for. An audited round
# therefore counts twice after wrk ends: until every read's AuditEvent is durable (the journal
# and the AuditEvent rows, read with sqlite3 from the database file), and until all are
# searchable resources (an AuditEvent search, which waits for the journal to empty). The next
# round starts after that, so the audited server's deferred work never overlaps a round.
#
# Usage: tools/bench/audit_bench.sh [--build DIR] [--duration S] [--connections N] [--rounds N]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build/release
duration=5
connections=32
rounds=4
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2 ;;
    --duration) duration=$2 ;;
    --connections) connections=$2 ;;
    --rounds) rounds=$2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "audit_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
build=$(cd "$build" && pwd)
server=$build/server/fhir-server
[ -x "$server" ] || { echo "audit_bench: $server is missing (build the release first)" >&2; exit 2; }
for tool in wrk curl awk sqlite3; do
  command -v "$tool" >/dev/null || { echo "audit_bench: $tool is not installed" >&2; exit 2; }
done

bench_name=audit_bench
# shellcheck source=tools/bench/bench_lib.sh
. "$here/bench_lib.sh"

# Starts fhir-server --audit $1 on a fresh database; sets base to its base URL. The access
# log stays on (the default) and goes to a file, as in rest_bench.sh. (Replaces bench_lib's.)
start_server() {
  "$server" --port 0 --db "$tmp/$1.db" --audit "$1" >/dev/null 2>"$tmp/$1.log" &
  pids+=("$!")
  base=$(wait_listening "$tmp/$1.log")
}

# Creates tools/bench/patient.json on base $1; prints the new id.
create_patient() {
  curl -sf -D - -o /dev/null -X POST -H 'Content-Type: application/fhir+json' \
    --data-binary @"$here/patient.json" "$1/Patient" |
    tr -d '\r' | sed -n 's#^[Ll]ocation: .*/Patient/\([^/]*\)/_history/.*#\1#p'
}

# The number of AuditEvents on base $1, all made resources first (the count request itself is
# audited after it).
audit_count() {
  curl -sf "$1/AuditEvent?_summary=count" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'
}

# The AuditEvents stored durably in database file $1: resources plus journal lines (one per
# event), read without a request (which would be audited and would empty the journal).
durable_count() {
  sqlite3 -readonly "$1" "SELECT (SELECT count(*) FROM current WHERE type = 'AuditEvent') +
    (SELECT coalesce(sum(length(data) - length(replace(data, x'0a', ''))), 0) FROM journal)"
}

# wrk against URL $1; sets n (requests), secs (wrk's duration), p50 and p99 (ms).
run_wrk() {
  wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s -s "$here/wrk_report.lua" "$1" \
    >"$tmp/wrk.out" 2>&1 || { cat "$tmp/wrk.out" >&2; exit 1; }
  wrk_result "$1"
  secs=$(awk -v d="$duration_us" 'BEGIN { printf "%.3f", d / 1e6 }')
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
log "binary $server; temporary files in $tmp"
start_server on
on_base=$base
start_server off
off_base=$base
on_id=$(create_patient "$on_base")
off_id=$(create_patient "$off_base")
[ -n "$on_id" ] && [ -n "$off_id" ] || { log "a create returned no Location"; exit 1; }
curl -sf "$on_base/Patient/$on_id" >/dev/null
log "audit on at $on_base, off at $off_base; GET Patient/ID, $connections connections"

best_off=0 best_on=0 best_durable=0 best_indexed=0
for round in $(seq "$rounds"); do
  run_wrk "$off_base/Patient/$off_id"
  rps=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  log "  round $round audit off: $rps req/s (p50 $p50 ms, p99 $p99 ms)"
  if [ "$rps" -gt "$best_off" ]; then best_off=$rps off_p50=$p50 off_p99=$p99; fi

  before=$(durable_count "$tmp/on.db")
  run_wrk "$on_base/Patient/$on_id"
  rps=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  # Wait until the round's AuditEvents are durable.
  wait_start=$(date +%s.%N)
  polls=0
  while [ $(($(durable_count "$tmp/on.db") - before)) -lt "$n" ]; do
    polls=$((polls + 1))
    if [ "$polls" -gt 600 ]; then log "the AuditEvents of round $round never arrived"; exit 1; fi
    sleep 0.02
  done
  now=$(date +%s.%N)
  durable_wait=$(awk -v a="$wait_start" -v b="$now" 'BEGIN { printf "%.3f", b - a }')
  # Then until they are all searchable resources.
  audit_count "$on_base" >/dev/null
  indexed_wait=$(awk -v a="$wait_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  durable=$(awk -v n="$n" -v s="$secs" -v d="$durable_wait" 'BEGIN { printf "%.0f", n / (s + d) }')
  indexed=$(awk -v n="$n" -v s="$secs" -v d="$indexed_wait" 'BEGIN { printf "%.0f", n / (s + d) }')
  log "  round $round audit on:  $rps req/s (p50 $p50 ms, p99 $p99 ms); $n AuditEvents durable" \
      "$durable_wait s after wrk ended ($durable req/s), resources after $indexed_wait s" \
      "($indexed req/s)"
  if [ "$durable" -gt "$best_durable" ]; then
    best_durable=$durable best_on=$rps on_p50=$p50 on_p99=$p99 on_durable=$durable_wait
  fi
  if [ "$indexed" -gt "$best_indexed" ]; then best_indexed=$indexed on_indexed=$indexed_wait; fi
done
total=$(audit_count "$on_base")

echo "Audit benchmark, $started, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "GET Patient/ID: wrk -t2 -c$connections, best of $rounds interleaved ${duration}-s rounds;" \
     "$total AuditEvents written in all"
echo
echo "| audit | req/s | ratio | target | p50 / p99 ms | wait after wrk |"
echo "| --- | ---: | ---: | --- | ---: | ---: |"
echo "| off | $best_off | 1.00x | | $off_p50 / $off_p99 | |"
echo "| on, while wrk ran | $best_on | $(ratio "$best_on" "$best_off") | | $on_p50 / $on_p99 | |"
echo "| on, until every AuditEvent is durable | $best_durable |" \
     "**$(ratio "$best_durable" "$best_off")** | 0.7x | | $on_durable s |"
echo "| on, until all are searchable resources | $best_indexed |" \
     "$(ratio "$best_indexed" "$best_off") | | | $on_indexed s |"
