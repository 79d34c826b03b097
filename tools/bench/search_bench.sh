#!/usr/bin/env bash
# The search benchmark of issue 4 (see tools/bench/README.md). Builds nothing: it takes the
# release binaries (fhir-server, fhir-ref-server), generates residents with tools/datagen,
# starts the server on a free loopback port with a fresh database in a temporary directory,
# loads, measures with wrk and curl, prints Markdown tables and removes what it started or wrote.
#
#   small    --small residents (1000, x20 resources): Patient?family=X (10 hits) and
#            Condition?subject=Patient/ID, wrk -t2 -c--connections, against fhir-ref-server
#            answering the same bytes and against Medplum's figures (66 and 270 requests/s)
#   large    --large residents (50000 x 20 = 1,000,000 resources), loaded for at most
#            --budget seconds: ingest rate, then at one connection the selective searches
#            (identifier, family+birthdate, code+patient), a _summary=count and an _include
#            of 100 subjects (with the default total and with _total=none); database size per
#            resource
#   synthea  ingest of the Synthea population (--synthea DIR) with all search indexes on,
#            against the same posts to fhir-ref-server
#
# Usage: tools/bench/search_bench.sh [--build DIR] [--small N] [--large N] [--budget S]
#          [--duration S] [--connections N] [--rounds N] [--parallel N] [--synthea DIR]
#          [--data DIR] [--only small|large|synthea] [--keep-db FILE] [--large-db FILE]
#   --data DIR      keep the generated bundles in DIR (reused when they are there already)
#   --keep-db FILE  move the large database to FILE at the end (for profiling afterwards)
#   --large-db FILE measure on FILE, a database into which all --large residents were loaded
#                   before (e.g. by --keep-db), instead of loading (no ingest row). The server
#                   writes to it: AuditEvents of the requests (unless FHIR_AUDIT=off), index
#                   changes at open, and a full reindex when its index version is older
# The server takes its other settings from the environment (e.g. FHIR_AUDIT=off to measure
# searches without the audit trail's writes); the tables' first line names the audit setting.
# A search row whose wrk run completes fewer than 10 requests (a search slower than
# --duration / 10) is measured instead by curl, one request at a time over the first 5 paths:
# its "p99" is then the slowest of those 5.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build/release
synthea=$root/../shared/synthea
small=1000
large=50000
budget=1200
duration=10
connections=16
rounds=2
parallel=2
data=
only=
keep_db=
large_db=
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2 ;;
    --synthea) synthea=$2 ;;
    --small) small=$2 ;;
    --large) large=$2 ;;
    --budget) budget=$2 ;;
    --duration) duration=$2 ;;
    --connections) connections=$2 ;;
    --rounds) rounds=$2 ;;
    --parallel) parallel=$2 ;;
    --data) data=$2 ;;
    --only) only=$2 ;;
    --keep-db) keep_db=$2 ;;
    --large-db) large_db=$2 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "search_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
build=$(cd "$build" && pwd)
server=$build/server/fhir-server
ref=$build/tools/fhir-ref-server
for tool in "$server" "$ref"; do
  [ -x "$tool" ] || { echo "search_bench: $tool is missing (build the release first)" >&2; exit 2; }
done
for tool in wrk curl bzip2 awk python3; do
  command -v "$tool" >/dev/null || { echo "search_bench: $tool is not installed" >&2; exit 2; }
done

bench_name=search_bench
# shellcheck source=tools/bench/bench_lib.sh
. "$here/bench_lib.sh"
[ -n "$data" ] || data=$tmp/data
mkdir -p "$data"

# Generates $1 residents into $data/r$1 unless there already; sets gen.
generate() {
  gen=$data/r$1
  if [ -f "$gen/manifest.json" ]; then
    log "reusing the generated data in $gen"
  else
    log "generating $1 residents into $gen"
    python3 "$root/tools/datagen/datagen.py" --residents "$1" --out "$gen"
  fi
}

json_field() {  # json_field FILE EXPR: evaluates the Python expression on the JSON `d`
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Posts the bundles of $gen (in order, $parallel at a time) to $base until $2 seconds have
# passed (0: no limit); the list of loaded bundles goes to file $1. Sets load_secs,
# load_entries, failed.
post_generated() {
  local list=$1 limit=$2 start deadline
  : >"$list"
  mkdir -p "$tmp/post"
  : >"$tmp/post/failures"
  start=$(date +%s.%N)
  deadline=$(awk -v s="$start" -v l="$limit" 'BEGIN { printf "%.0f", (l > 0 ? s + l : 0) }')
  # A bundle counts when it answers 200 with no 4xx/5xx entry; later bundles are skipped once
  # the deadline has passed.
  local post='f=$1; n=$(basename "$f"); [ "$3" = 0 ] || [ "$(date +%s)" -lt "$3" ] || exit 0
    code=$(curl -s -o "$4/$n.out" -w "%{http_code}" -X POST -H "Content-Type: application/fhir+json" \
           -H "Expect:" --data-binary @"$f" "$2")
    if [ "$code" = 200 ] && ! grep -q "\"status\":\"[45]" "$4/$n.out"; then echo "$n" >>"$5";
    else echo "FAILED $n: HTTP $code $(head -c 300 "$4/$n.out")" >>"$4/failures"; fi
    rm -f "$4/$n.out"'
  find "$gen" -name '[0-9]*.json' -print0 | sort -z |
    xargs -0 -P "$parallel" -I{} bash -c "$post" _ {} "$base" "$deadline" "$tmp/post" "$list"
  load_secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  sort -o "$list" "$list"
  load_entries=$(python3 -c 'import json,sys
m = json.load(open(sys.argv[1])); loaded = set(open(sys.argv[2]).read().split())
print(sum(b["entries"] for b in m["bundles"] if b["file"] in loaded))' "$gen/manifest.json" "$list")
  local all
  all=$(find "$gen" -name '[0-9]*.json' | wc -l)
  log "loaded $(wc -l <"$list")/$all bundles ($load_entries resources) in $load_secs s"
  if [ -s "$tmp/post/failures" ]; then
    log "$(wc -l <"$tmp/post/failures") bundles failed, e.g.:"
    head -3 "$tmp/post/failures" >&2
    exit 1
  fi
}

# wrk against URL $1 with script $2 (and BENCH_PATHS $3), $4 threads, $5 connections; sets
# rps, p50, p99 (ms) and n; any non-2xx response or socket error stops the run.
run_wrk() {
  BENCH_PATHS=${3:-} wrk -t"$4" -c"$5" -d"${duration}s" --timeout 30s -s "$2" "$1" \
    >"$tmp/wrk.out" 2>&1 || { cat "$tmp/wrk.out" >&2; exit 1; }
  wrk_result "$1"
}

total_of() { curl -sf "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("total"))'; }
urlq() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

started=$(date -u '+%Y-%m-%d %H:%M UTC')
log "binaries from $build; temporary files in $tmp"
small_rows=() large_rows=() ingest_rows=()

# --- small: two searches at --connections, against the reference and Medplum ---------------
# Compares our server with fhir-ref-server answering our very response to path $2 (label $1,
# Medplum's requests/s $3, expected hits $4 or "-").
compare_search() {
  local label=$1 path=$2 medplum=$3 expect=$4 hits
  hits=$(total_of "$base/$path")
  if [ "$expect" != - ] && [ "$hits" != "$expect" ]; then
    log "$label: $hits hits, expected $expect"; exit 1
  fi
  curl -sfi "$base/$path" >"$tmp/search.http"
  start_ref "$tmp/search.http"
  local ref_rps=0 our_rps=0 ref_p50 ref_p99 our_p50 our_p99
  for round in $(seq "$rounds"); do
    run_wrk "$ref_base/x" "$here/wrk_report.lua" "" 2 "$connections"
    log "  $label round $round reference: $rps req/s (p50 $p50 ms, p99 $p99 ms)"
    if [ "$rps" -gt "$ref_rps" ]; then ref_rps=$rps ref_p50=$p50 ref_p99=$p99; fi
    run_wrk "$base/$path" "$here/wrk_report.lua" "" 2 "$connections"
    log "  $label round $round ours:      $rps req/s (p50 $p50 ms, p99 $p99 ms)"
    if [ "$rps" -gt "$our_rps" ]; then our_rps=$rps our_p50=$p50 our_p99=$p99; fi
  done
  stop_pid "$ref_pid"
  small_rows+=("$(printf '| `%s` | %s | %s | %s | %s | **%s** | %s | **%s** | %s / %s | %s / %s |' \
    "$label" "$hits" "$(wc -c <"$tmp/search.http")" "$ref_rps" "$our_rps" \
    "$(ratio "$our_rps" "$ref_rps")" "$medplum" "$(ratio "$our_rps" "$medplum")" \
    "$our_p50" "$our_p99" "$ref_p50" "$ref_p99")")
}

if [ -z "$only" ] || [ "$only" = small ]; then
  generate "$small"
  start_server "$tmp/small.db"
  log "small: loading $small residents into $base"
  post_generated "$tmp/small.loaded" 0
  ingest_rows+=("$(printf '| generated, %s residents | %s | %s | **%s** |' "$small" \
    "$load_entries" "$load_secs" "$(awk -v n="$load_entries" -v s="$load_secs" \
    'BEGIN { printf "%.0f", n / s }')")")
  family=$(json_field "$gen/manifest.json" 'd["family"]')
  hits=$(json_field "$gen/manifest.json" 'd["family_hits"]')
  system=$(json_field "$gen/manifest.json" 'd["national_id_system"]')
  nid=$(json_field "$gen/manifest.json" 'd["samples"][0]["national_id"]')
  patient=$(curl -sf "$base/Patient?identifier=$(urlq "$system|$nid")" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')
  compare_search "Patient?family=$family" "Patient?family=$family" 66 "$hits"
  compare_search "Condition?subject=Patient/ID" "Condition?subject=Patient/$patient" 270 -
  stop_pid "$server_pid"
fi

# --- large: one connection, selective searches, count, include -------------------------------
# Runs wrk -t1 -c1 over the paths in file $2 (label $1, target $3, hits $4); adds a row.
single() {
  local label=$1 paths=$2 target=$3 hits=$4 how="wrk" used
  used=$(wc -l <"$paths")
  run_wrk "$base/" "$here/wrk_paths.lua" "$paths" 1 1
  if [ "$n" -lt 10 ]; then
    # Too slow for wrk's fixed duration: time single requests with curl instead.
    how="curl"
    head -5 "$paths" >"$tmp/slow.paths"
    used=$(wc -l <"$tmp/slow.paths")
    local origin times
    origin=$(python3 -c 'import sys,urllib.parse; u=urllib.parse.urlsplit(sys.argv[1]); print(u.scheme + "://" + u.netloc)' "$base")
    times=$(while read -r path; do
              curl -sf -o /dev/null -w '%{time_total}\n' "$origin$path" || exit 1
            done <"$tmp/slow.paths" | sort -n)
    p50=$(echo "$times" | awk '{ v[NR] = $1 } END { printf "%.0f", v[int((NR + 1) / 2)] * 1000 }')
    p99=$(echo "$times" | awk 'END { printf "%.0f", $1 * 1000 }')
    rps=$(echo "$times" | awk '{ s += $1 } END { printf "%.2f", NR / s }')
  fi
  log "  $label: $hits hits, $rps req/s, p50 $p50 ms, p99 $p99 ms ($how)"
  large_rows+=("$(printf '| %s | %s | %s | %s | %s | %s | **%s** | %s |' "$label" "$how" "$used" \
    "$hits" "$rps" "$p50" "$p99" "$target")")
}

if [ -z "$only" ] || [ "$only" = large ]; then
  generate "$large"
  if [ -n "$large_db" ]; then
    large_file=$large_db
    start_server "$large_file"
    large_entries=$(json_field "$gen/manifest.json" 'd["resources"]')
    loaded_list=all
    log "large: measuring on $large_db ($large_entries resources loaded before) at $base"
  else
    large_file=$tmp/large.db
    start_server "$large_file"
    log "large: loading up to $large residents into $base for at most $budget s"
    post_generated "$tmp/large.loaded" "$budget"
    large_entries=$load_entries
    loaded_list=$tmp/large.loaded
    ingest_rows+=("$(printf '| generated, %s residents (budget %s s) | %s | %s | **%s** |' \
      "$large" "$budget" "$load_entries" "$load_secs" "$(awk -v n="$load_entries" \
      -v s="$load_secs" 'BEGIN { printf "%.0f", n / s }')")")
  fi
  samples=$(python3 "$here/search_paths.py" "$gen/manifest.json" "$base" "$loaded_list" "$tmp")
  log "large: $samples sample residents; measuring at one connection"
  single "identifier (\`Patient?identifier=sys\\|value\`)" "$tmp/identifier.paths" "p99 < 20 ms" 1
  single "family + birthdate" "$tmp/family_birthdate.paths" "p99 < 20 ms" ">= 1"
  single "code + patient (\`Observation?code=loinc\\|8302-2&patient=ID\`)" "$tmp/code_patient.paths" \
    "p99 < 20 ms" 1
  base_path=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).path)' "$base")
  count_path="Observation?category=laboratory&_summary=count"
  hits=$(total_of "$base/$count_path")
  echo "$base_path/$count_path" >"$tmp/count.paths"
  single "\`$count_path\`" "$tmp/count.paths" "< 100 ms at 100,000 hits" "$hits"
  loinc=$(urlq "http://loinc.org|8302-2")
  : >"$tmp/include.paths"
  for offset in 0 100 200 300 400 500 600 700 800 900; do
    echo "$base_path/Observation?code=$loinc&_count=100&_offset=$offset&_include=Observation:subject" \
      >>"$tmp/include.paths"
  done
  # Every page must hold 100 matches and their 100 distinct subjects.
  got=$(curl -sf "$base/Observation?code=$loinc&_count=100&_include=Observation:subject" |
        python3 -c 'import json,sys; b=json.load(sys.stdin); e=b.get("entry",[])
print(sum(x["search"]["mode"]=="match" for x in e), sum(x["search"]["mode"]=="include" for x in e))')
  [ "$got" = "100 100" ] || { log "_include: got $got matches/includes, expected 100 100"; exit 1; }
  single "\`Observation?code=loinc\\|8302-2&_count=100&_include=Observation:subject\` (pages 1-10)" \
    "$tmp/include.paths" "< 50 ms" "100 + 100"
  # The same pages without Bundle.total (_total=none): the count is left out.
  sed 's/$/\&_total=none/' "$tmp/include.paths" >"$tmp/include_none.paths"
  single "the same with \`_total=none\`" "$tmp/include_none.paths" "< 50 ms" "100 + 100"
  stop_pid "$server_pid"
  db_bytes=0
  for f in "$large_file" "$large_file-wal"; do
    if [ -f "$f" ]; then db_bytes=$((db_bytes + $(stat -c %s "$f"))); fi
  done
  db_note=$(awk -v b="$db_bytes" -v n="$large_entries" \
    'BEGIN { printf "%.0f MB for %d resources: %.0f bytes per resource", b / 1e6, n, b / n }')
  log "large: database $db_note"
  if [ -n "$keep_db" ] && [ -z "$large_db" ]; then mv "$tmp/large.db" "$keep_db"; fi
fi

# --- synthea: ingest with every search index on -------------------------------------------
post_synthea() {  # $1 URL, $2 output dir; sets secs and failed
  local url=$1 out=$2 start
  mkdir -p "$out"
  : >"$out/codes"
  local post='curl -s -o "$2/$(basename "$1").out" -w "%{http_code}\n" -X POST \
    -H "Content-Type: application/fhir+json" -H "Expect:" --data-binary @"$1" "$3" >>"$2/codes"'
  start=$(date +%s.%N)
  for f in "$tmp"/synthea/0-*.json; do bash -c "$post" _ "$f" "$out" "$url"; done
  find "$tmp/synthea" -name '*.json' ! -name '0-*' -print0 |
    xargs -0 -P "$parallel" -I{} bash -c "$post" _ {} "$out" "$url"
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  failed=$(grep -vc '^200$' "$out/codes" || true)
  if grep -lq '"status":"[45]' "$out"/*.out 2>/dev/null; then failed=$((failed + 1)); fi
}

if [ -z "$only" ] || [ "$only" = synthea ]; then
  [ -d "$synthea" ] || { log "no Synthea bundles at $synthea (--synthea DIR)"; exit 2; }
  mkdir -p "$tmp/synthea"
  for f in "$synthea"/*.json.bz2; do bzip2 -dc "$f" >"$tmp/synthea/$(basename "$f" .bz2)"; done
  entries=$(cat "$tmp"/synthea/*.json | grep -o '"request"' | wc -l)
  printf 'HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json; charset=utf-8\r\nContent-Length: 49\r\n\r\n{"resourceType":"Bundle","type":"batch-response"}' \
    >"$tmp/ingest.http"
  start_ref "$tmp/ingest.http"
  post_synthea "$ref_base/fhir" "$tmp/ref-out"
  stop_pid "$ref_pid"
  ref_secs=$secs
  start_server "$tmp/synthea.db"
  log "synthea: posting $entries resources to $base"
  post_synthea "$base" "$tmp/our-out"
  stop_pid "$server_pid"
  [ "$failed" = 0 ] || { log "synthea: $failed bundles failed"; exit 1; }
  ingest_rows+=("$(printf '| Synthea, 122 bundles | %s | %s | **%s** (reference %s/s: %s) |' \
    "$entries" "$secs" "$(awk -v n="$entries" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" \
    "$(awk -v n="$entries" -v s="$ref_secs" 'BEGIN { printf "%.0f", n / s }')" \
    "$(ratio "$ref_secs" "$secs")")")
fi

echo "Search benchmark, $started, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
     "audit ${FHIR_AUDIT:-on}"
if [ ${#small_rows[@]} -gt 0 ]; then
  echo
  echo "$small residents ($((small * 20)) resources); wrk -t2 -c$connections, best of $rounds" \
       "interleaved ${duration}-s rounds; reference = fhir-ref-server answering the same bytes;" \
       "target 50x Medplum"
  echo
  echo "| search | hits | bytes | ref /s | ours /s | vs ref | Medplum /s | vs Medplum | ours p50 / p99 ms | ref p50 / p99 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for r in "${small_rows[@]}"; do echo "$r"; done
fi
if [ ${#large_rows[@]} -gt 0 ]; then
  echo
  echo "$large_entries resources loaded; one connection (wrk -t1 -c1, ${duration} s per row," \
       "cycling over the listed paths); database $db_note"
  echo
  echo "| search | by | paths | hits | req/s | p50 ms | p99 ms | target |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
  for r in "${large_rows[@]}"; do echo "$r"; done
fi
if [ ${#ingest_rows[@]} -gt 0 ]; then
  echo
  echo "Ingest with every search index on: transaction bundles by curl, $parallel at a time" \
       "(target 20,000 resources/s)"
  echo
  echo "| data | resources | seconds | resources/s |"
  echo "| --- | ---: | ---: | ---: |"
  for r in "${ingest_rows[@]}"; do echo "$r"; done
fi
