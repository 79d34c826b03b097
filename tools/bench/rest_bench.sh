#!/usr/bin/env bash
# The REST benchmark of issue #3 (see tools/bench/README.md). Builds nothing: it takes the
# release binaries (fhir-server, fhir-ref-server), starts them on free loopback ports with a
# fresh database in a temporary directory, measures with wrk and curl, prints a table and
# removes everything it started or wrote.
#
#   read    GET [base]/Patient/ID, against fhir-ref-server answering the same bytes
#   create  POST [base]/Patient (tools/bench/patient.json), against fhir-ref-server answering
#           our 201 response to the same POST
#   ingest  the Synthea bundles (hospital and practitioner batches, then the patient
#           transactions, --parallel at a time) posted by curl, against the same posts to
#           fhir-ref-server (which reads each bundle and answers a fixed response)
#
# Usage: tools/bench/rest_bench.sh [--build DIR] [--synthea DIR] [--duration S]
#          [--connections N] [--rounds N] [--parallel N] [--only read|create|ingest]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build/release
synthea=$root/../shared/synthea
duration=5
connections=32
rounds=4
parallel=4
only=
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2 ;;
    --synthea) synthea=$2 ;;
    --duration) duration=$2 ;;
    --connections) connections=$2 ;;
    --rounds) rounds=$2 ;;
    --parallel) parallel=$2 ;;
    --only) only=$2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "rest_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
build=$(cd "$build" && pwd)
server=$build/server/fhir-server
ref=$build/tools/fhir-ref-server
for tool in "$server" "$ref"; do
  [ -x "$tool" ] || { echo "rest_bench: $tool is missing (build the release first)" >&2; exit 2; }
done
for tool in wrk curl bzip2 awk; do
  command -v "$tool" >/dev/null || { echo "rest_bench: $tool is not installed" >&2; exit 2; }
done

bench_name=rest_bench
# shellcheck source=tools/bench/bench_lib.sh
. "$here/bench_lib.sh"

# wrk against URL $1 (POSTing file $2 if given); sets rps p50 p99 (ms) and n.
run_wrk() {
  BENCH_BODY=${2:-} wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s \
    -s "$here/wrk_report.lua" "$1" >"$tmp/wrk.out" 2>&1 || { cat "$tmp/wrk.out" >&2; exit 1; }
  wrk_result "$1"
}

# Runs `rounds` interleaved rounds of wrk against the reference ($1) and us ($2) (POSTing $3
# if given); keeps the best round of each. Sets ref_* and our_*.
compare() {
  ref_rps=0 our_rps=0
  for round in $(seq "$rounds"); do
    run_wrk "$1" "${3:-}"
    log "  round $round reference: $rps req/s (p50 $p50 ms, p99 $p99 ms)"
    if [ "$rps" -gt "$ref_rps" ]; then ref_rps=$rps ref_p50=$p50 ref_p99=$p99; fi
    run_wrk "$2" "${3:-}"
    log "  round $round ours:      $rps req/s (p50 $p50 ms, p99 $p99 ms)"
    if [ "$rps" -gt "$our_rps" ]; then our_rps=$rps our_p50=$p50 our_p99=$p99 our_n=$n; fi
  done
}


rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | **%s** | %s | %s / %s | %s / %s |' "$@")"); }

# Fetches GET [base]/Patient?_count=0's total.
patient_total() {
  curl -sf "$base/Patient?_count=0" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
log "binaries from $build; temporary files in $tmp"

if [ -z "$only" ] || [ "$only" = read ] || [ "$only" = create ]; then
  start_server "$tmp/crud.db"
  log "fhir-server at $base"
  location=$(curl -sf -D - -o /dev/null -X POST -H 'Content-Type: application/fhir+json' \
               --data-binary @"$here/patient.json" "$base/Patient" |
             tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  id=$(echo "$location" | sed -n 's#.*/Patient/\([^/]*\)/_history/.*#\1#p')
  [ -n "$id" ] || { log "the first create returned no Location"; exit 1; }

  if [ -z "$only" ] || [ "$only" = read ]; then
    curl -sfi "$base/Patient/$id" >"$tmp/read.http"
    start_ref "$tmp/read.http"
    # The reference must send exactly our body and header fields (Date aside).
    strip() { tr -d '\r' | grep -vi '^date:'; }
    if ! cmp -s <(curl -si "$base/Patient/$id" | strip) <(curl -si "$ref_base/x" | strip); then
      log "the reference does not answer the same bytes as the server"
      diff <(curl -si "$base/Patient/$id" | strip) <(curl -si "$ref_base/x" | strip) >&2 || true
      exit 1
    fi
    log "read: $(wc -c <"$tmp/read.http") bytes per response, $connections connections"
    compare "$ref_base/fhir/Patient/$id" "$base/Patient/$id"
    stop_pid "$ref_pid"
    row read "Beast, same bytes" "$ref_rps" "$our_rps" "$(ratio "$our_rps" "$ref_rps")" \
        "0.6x of ref" "$our_p50" "$our_p99" "$ref_p50" "$ref_p99"
  fi

  if [ -z "$only" ] || [ "$only" = create ]; then
    curl -sfi -X POST -H 'Content-Type: application/fhir+json' \
      --data-binary @"$here/patient.json" "$base/Patient" >"$tmp/create.http"
    start_ref "$tmp/create.http"
    before=$(patient_total)
    log "create: $(wc -c <"$here/patient.json") bytes per POST, $connections connections"
    compare "$ref_base/fhir/Patient" "$base/Patient" "$here/patient.json"
    stop_pid "$ref_pid"
    # Every acknowledged create must be stored (in-flight ones at wrk's end may add more).
    after=$(patient_total)
    stored=$((after - before))
    if [ "$stored" -lt "$our_n" ]; then
      log "create: wrk saw $our_n creates in its best round but the store gained only $stored"
      exit 1
    fi
    row create "Beast, same bytes" "$ref_rps" "$our_rps" "$(ratio "$our_rps" "$ref_rps")" \
        "10,000/s" "$our_p50" "$our_p99" "$ref_p50" "$ref_p99"
  fi
  stop_pid "$server_pid"
fi

# POSTs every bundle of $tmp/synthea to $1 (batches first, then the patients $parallel at a
# time), answers in $2; sets secs, bundle_p50, bundle_p99 (ms) and failed.
post_bundles() {
  local url=$1 out=$2
  mkdir -p "$out"
  : >"$out/times"
  # "Expect:" stops curl from asking for 100 Continue on large bodies (and waiting a second for
  # it, as neither server sends one).
  local post='curl -s -o "$2/$(basename "$1").out" -w "%{http_code} %{time_total}\n" -X POST \
    -H "Content-Type: application/fhir+json" -H "Expect:" --data-binary @"$1" "$3" >>"$2/times"'
  local start end
  start=$(date +%s.%N)
  for f in "$tmp"/synthea/0-*.json; do bash -c "$post" _ "$f" "$out" "$url"; done
  find "$tmp/synthea" -name '*.json' ! -name '0-*' -print0 |
    xargs -0 -P "$parallel" -I{} bash -c "$post" _ {} "$out" "$url"
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  failed=$(awk '$1 != 200' "$out/times" | wc -l)
  if grep -lq '"status":"[45]' "$out"/*.out 2>/dev/null; then failed=$((failed + 1)); fi
  read -r bundle_p50 bundle_p99 < <(awk '{ print $2 * 1000 }' "$out/times" | sort -n |
    awk '{ v[NR] = $1 } END { i50 = int(NR * 0.5 + 0.5); i99 = int(NR * 0.99 + 0.5);
                              if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1;
                              printf "%.0f %.0f\n", v[i50], v[i99] }')
}

if [ -z "$only" ] || [ "$only" = ingest ]; then
  [ -d "$synthea" ] || { log "no Synthea bundles at $synthea (--synthea DIR)"; exit 2; }
  mkdir -p "$tmp/synthea"
  for f in "$synthea"/*.json.bz2; do bzip2 -dc "$f" >"$tmp/synthea/$(basename "$f" .bz2)"; done
  entries=$(cat "$tmp"/synthea/*.json | grep -o '"request"' | wc -l)
  bundles=$(ls "$tmp"/synthea/*.json | wc -l)
  mb=$(du -cm "$tmp"/synthea/*.json | tail -1 | cut -f1)
  log "ingest: $bundles bundles, $entries entries, $mb MB, $parallel posts at a time"

  printf 'HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json; charset=utf-8\r\nContent-Length: 49\r\n\r\n{"resourceType":"Bundle","type":"batch-response"}' \
    >"$tmp/ingest.http"
  start_ref "$tmp/ingest.http"
  post_bundles "$ref_base/fhir" "$tmp/ref-out"
  ref_secs=$secs ref_p50=$bundle_p50 ref_p99=$bundle_p99
  stop_pid "$ref_pid"
  [ "$failed" = 0 ] || { log "ingest: the reference failed $failed posts"; exit 1; }
  log "  reference: $ref_secs s"

  start_server "$tmp/ingest.db"
  post_bundles "$base" "$tmp/our-out"
  stop_pid "$server_pid"
  if [ "$failed" != 0 ]; then
    log "ingest: $failed bundles failed, e.g.:"
    grep -l '"status":"[45]' "$tmp"/our-out/*.out | head -1 | xargs head -c 600 >&2 || true
    awk '$1 != 200' "$tmp/our-out/times" | head -3 >&2
    exit 1
  fi
  log "  ours: $secs s"
  ref_res=$(awk -v n="$entries" -v s="$ref_secs" 'BEGIN { printf "%.0f", n / s }')
  our_res=$(awk -v n="$entries" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  row ingest "curl to Beast, same posts" "$ref_res" "$our_res" "$(ratio "$our_res" "$ref_res")" \
      "20,000/s" "$bundle_p50" "$bundle_p99" "$ref_p50" "$ref_p99"
fi

echo "REST benchmark, $started, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "read/create: wrk -t2 -c$connections, best of $rounds interleaved ${duration}-s rounds;" \
     "ingest: resources/s, bundles $parallel at a time"
echo
echo "| test | reference | ref /s | ours /s | ratio | target | ours p50 / p99 ms | ref p50 / p99 ms |"
echo "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |"
for r in "${rows[@]}"; do echo "$r"; done
