#!/usr/bin/env bash
# Measures, on the sample spec, the two figures of the walking skeleton:
#   1. from `flotilla up` to 3 healthy shop tasks;
#   2. from SIGKILL of a shop task that has run for over 10s to a healthy replacement (3 healthy shop tasks again,
#      without it). A task killed within 10s of its start counts as a failed start and adds a 1s backoff.
# Usage: bench/fleet-timings.sh [ROUNDS]   (default 3). Needs jq, and ports 8080 and 9400 free.
# Everything it starts is stopped by PID on exit, also when interrupted.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
command -v jq >/dev/null || { echo "needs jq (apt-get install jq)" >&2; exit 1; }
"$root/flotilla" --help >/dev/null   # build once, outside the measurement

state="$(mktemp -d)"
pid=""
cleanup() { [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$state"; }
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
healthy_shop() { "$root/flotilla" ps --state-dir "$state" --json 2>/dev/null \
  | jq -r --arg not "${1:-}" '[.[] | select(.service=="shop" and .state=="running" and .health=="healthy" and .id!=$not)] | length'; }
wait_for() { while [[ $(healthy_shop "${1:-}") != 3 ]]; do sleep 0.05; done; }

printf "%-6s %-22s %-28s\n" round "up→3 healthy (s)" "SIGKILL→replacement healthy (s)"
for ((i = 1; i <= rounds; i++)); do
  t0=$(now)
  dotnet "$root/src/Flotilla/bin/Release/net10.0/flotilla.dll" up "$root/samples/flotilla.yaml" --state-dir "$state" >"$state/up.log" 2>&1 &
  pid=$!
  wait_for
  t1=$(now)
  sleep "$(echo "12 - ($t1 - $t0)" | bc)"
  victim=$("$root/flotilla" ps --state-dir "$state" --json | jq -r '.[] | select(.id=="shop-2") | .pid')
  t2=$(now)
  kill -KILL "$victim"
  wait_for shop-2
  t3=$(now)
  printf "%-6s %-22.2f %-28.2f\n" "$i" "$(echo "$t1 - $t0" | bc)" "$(echo "$t3 - $t2" | bc)"
  kill -TERM "$pid"; wait "$pid" || true; pid=""
done
