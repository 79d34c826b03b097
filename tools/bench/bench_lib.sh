# Shared by the benchmark scripts of tools/bench (rest_bench.sh, search_bench.sh,
# audit_bench.sh): a temporary directory and the processes started, removed on exit; waiting for
# a server to listen; the reference server; reading wrk's RESULT line (wrk_report.lua).
# Source it after setting `bench_name`; it sets `tmp` and `pids`.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$bench_name.XXXXXX")
pids=()
bench_cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap bench_cleanup EXIT
log() { echo "$bench_name: $*" >&2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

# Waits for the server writing to file $1 to print "listening on ADDRESS" and prints ADDRESS.
wait_listening() {
  local found
  for _ in $(seq 300); do
    # The line may be caught half written: wait for the address and its end of line.
    found=$(sed -n 's/.*listening on \([^ ]*[0-9a-z]\)$/\1/p' "$1" 2>/dev/null | head -1)
    if [ -n "$found" ] && [ "$(tail -c1 "$1" | od -An -c | tr -d ' ')" = '\n' ]; then
      echo "$found"
      return 0
    fi
    sleep 0.1
  done
  echo "$bench_name: no server came up; its output:" >&2
  cat "$1" >&2
  return 1
}

# Starts $server on a free port with a fresh database $1; sets base and server_pid.
# The access log stays on (the default) and goes to a file, as in a deployment.
start_server() {
  "$server" --port 0 --db "$1" 2>"$tmp/server.log" &
  server_pid=$!
  pids+=("$server_pid")
  base=$(wait_listening "$tmp/server.log")
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Starts $ref (fhir-ref-server) answering the raw response in file $1; sets ref_base and ref_pid.
start_ref() {
  "$ref" --response "$1" >"$tmp/ref.out" 2>&1 &
  ref_pid=$!
  pids+=("$ref_pid")
  ref_base="http://127.0.0.1:$(wait_listening "$tmp/ref.out")"
}

# Reads the RESULT line of a wrk run against URL $1 from $tmp/wrk.out; exits on any non-2xx/3xx
# answer or socket error. Sets n, duration_us, rps, and p50 p99 in ms.
wrk_result() {
  local _ p50_us p99_us bad errors
  read -r _ n duration_us p50_us p99_us bad errors < <(grep '^RESULT' "$tmp/wrk.out")
  if [ "$bad" != 0 ] || [ "$errors" != 0 ]; then
    log "$1: $bad non-2xx/3xx responses, $errors socket errors"
    exit 1
  fi
  rps=$(awk -v n="$n" -v d="$duration_us" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
  p50=$(awk -v v="$p50_us" 'BEGIN { printf "%.2f", v / 1000 }')
  p99=$(awk -v v="$p99_us" 'BEGIN { printf "%.2f", v / 1000 }')
}
