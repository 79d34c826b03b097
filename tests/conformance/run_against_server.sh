#!/usr/bin/env bash
# Starts fhir-server on a free loopback port with a fresh database, runs the black-box
# conformance suite against it, stops the server. Usage: run_against_server.sh SERVER SUITE
set -euo pipefail
server=$1
suite=$2
dir=$(mktemp -d)
log="$dir/server.log"
"$server" --host 127.0.0.1 --port 0 --db "$dir/fhir.db" 2> "$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  base=$(grep -o 'http://[^ ]*' "$log" | head -1 || true)
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { echo "server did not start:"; cat "$log"; exit 1; }
"$suite" --base "$base"
