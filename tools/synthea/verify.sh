#!/usr/bin/env bash
# Checks a server loaded by tools/synthea/load.sh: the count per resource type against the
# population's README, and searches (gender, birthdate and date ranges, LOINC/SNOMED/CVX codes,
# a chain, a _has) against counts computed from the bundles by verify.py. Prints expected vs
# actual per check; exits non-zero on any mismatch. Usage: tools/synthea/verify.sh BASE_URL [DIR]
set -euo pipefail
base=${1:?usage: verify.sh BASE_URL [SYNTHEA_DIR]}
dir=${2:-$(dirname "$0")/../../../shared/synthea}
exec python3 "$(dirname "$0")/verify.py" "$base" "$dir"
