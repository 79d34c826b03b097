#!/usr/bin/env bash
# Loads the Synthea sample population (../shared/synthea, see its README) into a running server:
# the hospital and practitioner batch bundles first, then one transaction bundle per patient.
# Prints the resources loaded and resources/s. Usage: tools/synthea/load.sh BASE_URL [DIR]
set -euo pipefail
base=${1:?usage: load.sh BASE_URL [SYNTHEA_DIR]}
dir=${2:-$(dirname "$0")/../../../shared/synthea}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$dir"/*.json.bz2; do bzcat "$f" > "$tmp/$(basename "$f" .bz2)"; done
resources=$(cat "$tmp"/*.json | grep -o '"request"' | wc -l)
start=$(date +%s.%N)
failed=0
files=("$tmp"/0-*.json)
for f in "$tmp"/*.json; do [[ $(basename "$f") == 0-* ]] || files+=("$f"); done
for f in "${files[@]}"; do
  code=$(curl -s -o "$tmp/out" -w '%{http_code}' -X POST -H 'Content-Type: application/fhir+json' \
         --data-binary @"$f" "$base")
  if [ "$code" != 200 ] || grep -q '"status":"[45]' "$tmp/out"; then
    echo "FAILED $(basename "$f"): HTTP $code $(head -c 400 "$tmp/out")" >&2
    failed=$((failed + 1))
  fi
done
end=$(date +%s.%N)
secs=$(echo "$end - $start" | bc -l)
printf '%d bundle entries in %.1f s: %.0f resources/s; %d bundles failed\n' \
  "$resources" "$secs" "$(echo "$resources / $secs" | bc -l)" "$failed"
[ "$failed" = 0 ]
