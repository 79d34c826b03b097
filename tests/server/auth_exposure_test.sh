#!/bin/sh
# The --insecure rule on the real binary: without authentication fhir-server refuses a
# non-loopback address (exit 1, a message naming the way out), starts with --insecure (and
# warns), and starts on non-loopback addresses when a key is configured.
# Usage: auth_exposure_test.sh path/to/fhir-server
set -u
server=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$server" --host 0.0.0.0 --port 0 --db "$dir/a.db" --access-log off >"$dir/out" 2>"$dir/err"
status=$?
[ "$status" -eq 1 ] || fail "expected exit 1 without --insecure, got $status"
expected="fhir-server: refusing to serve without authentication on 0.0.0.0, which is not a loopback address: configure --jwks or --jwt-secret, bind 127.0.0.1, or pass --insecure to accept that anyone who can reach it reads and writes all data"
[ "$(cat "$dir/err")" = "$expected" ] || fail "unexpected message: $(cat "$dir/err")"

# Starts (and says where) with --insecure, or with a secret; stopped with SIGTERM.
check_starts() {
  name=$1
  shift
  "$server" --host 0.0.0.0 --port 0 --db "$dir/$name.db" --access-log off "$@" 2>"$dir/$name.err" &
  pid=$!
  i=0
  while ! grep -q "listening on" "$dir/$name.err" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null
      fail "$name: did not start: $(cat "$dir/$name.err")"
    fi
    sleep 0.1
  done
  kill -TERM "$pid"
  wait "$pid" || fail "$name: exit status $? after SIGTERM"
}
check_starts insecure --insecure
grep -q "^fhir-server: WARNING: --insecure: serving 0.0.0.0 without authentication$" \
  "$dir/insecure.err" || fail "no --insecure warning: $(cat "$dir/insecure.err")"
check_starts secret --jwt-secret 0123456789abcdef0123456789abcdef
if grep -q WARNING "$dir/secret.err"; then fail "warning with authentication on"; fi
echo "auth exposure: ok"
