#!/usr/bin/env bash
# Measures, on samples/autoscaling.yaml (the Shop sample, active_requests target 4, evaluated every 2s, min 2), how fast
# the autoscaler answers a 10x load step:
#   1. from the start of the step to the scale-out decision (the time of the "scaled shop" event);
#   2. from the start of the step to the first request a new task serves (the first access-log line naming it; its
#      time is the request's arrival at the load balancer);
#   3. from the start of the step to the decision that reaches the needed count, 5 (the first decision may see only
#      part of the step in its 2s window, and a second one completes it).
# The load is wrk against /work?ms=200: 2 connections (1 in flight per task: within min), then 18 more (10x: 20 in
# flight, which needs 5 tasks). Ports are dynamic, so it runs beside anything.
# Usage: bench/autoscaling.sh [ROUNDS]   (default 3). Needs wrk and jq (apt-get install wrk jq).
# Everything it starts is stopped by PID on exit, also when interrupted.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
source "$root/bench/common.sh"
bench_init wrk jq

# The sample, with every port dynamic and the Shop's path absolute.
sed -e 's/127\.0\.0\.1:9400/127.0.0.1:0/' -e 's/127\.0\.0\.1:8080/127.0.0.1:0/' \
    -e "s|\"Shop/bin/|\"$root/samples/Shop/bin/|" "$root/samples/autoscaling.yaml" >"$work/flotilla.yaml"

ms() { date +%s%3N; }
iso_ms() { python3 -c 'import sys, datetime; print(int(datetime.datetime.fromisoformat(sys.argv[1]).timestamp() * 1000))' "$1"; }
api() { curl -sf -H "Authorization: Bearer $token" "$admin/api/v1/$1"; }

printf "%-6s %-20s %-24s %-26s %s\n" round "step→decision (ms)" "step→new task serves (ms)" "step→5 tasks decided (ms)" "first decision"
for ((i = 1; i <= rounds; i++)); do
  state="$work/state-$i"
  dotnet "$root/src/Flotilla/bin/Release/net10.0/flotilla.dll" up "$work/flotilla.yaml" --state-dir "$state" >"$work/up-$i.log" 2>&1 &
  flotilla=$!
  pids+=("$flotilla")
  until [[ -f $state/admin.json ]]; do sleep 0.1; done
  admin=$(jq -r .url "$state/admin.json"); token=$(jq -r .token "$state/admin.json"); web=$(jq -r .listeners.web "$state/admin.json")
  until [[ $(api 'tasks?service=shop&state=running' | jq '[.[] | select(.health=="healthy")] | length') == 2 ]]; do sleep 0.2; done

  wrk -c 2 -t 1 -d 40s "$web/work?ms=200" >/dev/null &
  pids+=("$!")
  sleep 12   # past the warm-up of the first two tasks, and a few evaluations at the baseline
  step=$(ms)
  wrk -c 18 -t 2 -d 25s "$web/work?ms=200" >/dev/null &
  pids+=("$!")

  until event=$(api 'events?service=shop' | jq -ce '[.[] | select(.message | startswith("scaled shop"))][0]'); do sleep 0.1; done
  decided=$(iso_ms "$(jq -r .time <<<"$event")")
  new_tasks=$(api 'tasks?service=shop' | jq -r '[.[] | select(.id != "shop-1" and .id != "shop-2") | .id] | join(" ")')
  served=""
  while [[ -z $served ]]; do
    # -R and fromjson? skip the line the access log's writer may be half-way through.
    served=$(jq -rR --arg ids " $new_tasks " 'fromjson? | select(.task as $t | $t != null and ($ids | contains(" " + $t + " "))) | .time' "$state/access.log" | head -1 || true)
    [[ -n $served ]] || sleep 0.1
  done
  # 20 requests in flight at 4 per task: the needed count is 5, reached at once or by a second decision.
  until needed=$(api 'events?service=shop' | jq -ce '[.[] | select(.message | test("^scaled shop \\d+ → 5:"))][0]'); do sleep 0.1; done
  printf "%-6s %-20s %-24s %-26s %s\n" "$i" "$((decided - step))" "$(($(iso_ms "$served") - step))" "$(($(iso_ms "$(jq -r .time <<<"$needed")") - step))" "$(jq -r .message <<<"$event")"

  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
done
