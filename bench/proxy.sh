#!/usr/bin/env bash
# Compares Flotilla's load balancer with nginx and HAProxy (and a direct, proxy-less reference) in one interleaved
# run on this machine: the same two Shop backends behind each, the same wrk load, figures per round and medians.
# bench/README.md explains the columns, the CPU measurement and why the configs are equivalent.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/proxy.sh [OPTIONS]

Benchmarks Flotilla's load balancer against nginx and HAProxy, interleaved (flotilla, flotilla-yarp, haproxy,
nginx, direct; then again, ROUNDS times), all fronting the SAME two Shop tasks that Flotilla runs. "flotilla" is a
listener on its HTTP/1.1 fast path (the default), "flotilla-yarp" a second listener of the same process with
fastPath: false (Kestrel + YARP). "direct" is wrk straight at one backend: the ceiling without a proxy. Prints each round's figures, then per target the median
RPS, p50, p99, proxy CPU time per request, the backends' CPU time per request, total errors, and ratios to HAProxy;
last, each target's RPS over HAProxy's round by round.

Options (each also settable by the environment variable in brackets):
  -r, --rounds N          rounds of all targets                                   [ROUNDS, default 3]
  -d, --duration D        wrk duration of one measured run, e.g. 10s or 1m        [DURATION, default 10s]
  -c, --connections N     wrk connections                                         [CONNECTIONS, default 64]
  -t, --threads N         wrk threads                                             [THREADS, default 2]
  -p, --path PATH         request path                                            [BENCH_PATH, default /]
      --warmup-step S     seconds of one warm-up run against Flotilla             [WARMUP_STEP, default 5]
      --warmup-max S      give up waiting for a stable RPS after S seconds        [WARMUP_MAX, default 60]
      --floor             also measure three bare .NET proxies (bench/ProxyFloor): [FLOOR=1]
                          net-http (Kestrel + HttpClient only), net-tcp (bytes
                          relayed per connection on Kestrel's transport) and
                          net-epoll (HTTP/1.1 on event loops of its own, epoll
                          and libc sockets): what .NET designs cost here
      --quiet-backends    run the Shop tasks without the .NET thread pool's     [QUIET_BACKENDS=1]
                          spin-waiting (DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0,
                          as Flotilla runs itself): on a small machine an idle
                          backend worker otherwise spins on sched_yield, taking
                          CPU from the proxy under test (bench/README.md)
      --no-csv            do not write bench/results/proxy-TIME.csv               [CSV=0]
      --keep              keep the temp dir (configs, logs, raw wrk output)       [KEEP=1]
  -h, --help              this help

Installs nginx, haproxy, wrk, jq, curl and python3 with apt-get when missing (sudo if not root), builds Flotilla
and the Shop sample (Release), and stops everything it started, by PID, on exit or Ctrl-C.

Exit status: 0 done; 1 a step failed, or a backend was replaced mid-run (figures printed but not comparable);
130/143 interrupted. On failure the temp dir (configs, logs, raw wrk output) is kept and its path printed.

Example: ROUNDS=2 DURATION=5s bench/proxy.sh
EOF
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
bench_path="${BENCH_PATH:-/}"
warmup_step="${WARMUP_STEP:-5}"
warmup_max="${WARMUP_MAX:-60}"
write_csv="${CSV:-1}"
floor="${FLOOR:-0}"
quiet_backends="${QUIET_BACKENDS:-0}"
keep="${KEEP:-0}"

die() { echo "proxy.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

while (($#)); do
  case "$1" in
    -r | --rounds) rounds="${2:?}"; shift 2 ;;
    -d | --duration) duration="${2:?}"; shift 2 ;;
    -c | --connections) connections="${2:?}"; shift 2 ;;
    -t | --threads) threads="${2:?}"; shift 2 ;;
    -p | --path) bench_path="${2:?}"; shift 2 ;;
    --warmup-step) warmup_step="${2:?}"; shift 2 ;;
    --warmup-max) warmup_max="${2:?}"; shift 2 ;;
    --no-csv) write_csv=0; shift ;;
    --floor) floor=1; shift ;;
    --quiet-backends) quiet_backends=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for n in rounds connections threads warmup_step warmup_max; do
  [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer, got '${!n}'"
done
[[ $duration =~ ^[1-9][0-9]*[smh]?$ ]] || die "duration must look like 10s, 1m or 30, got '$duration'"
[[ $bench_path == /* ]] || die "path must start with /, got '$bench_path'"

cores=$(nproc)
clk_tck=$(getconf CLK_TCK)
# nginx and haproxy live in /usr/sbin, which is not on a normal user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"

# --- tools -------------------------------------------------------------------------------------------------------

install_missing() {
  local -A package_of=([nginx]=nginx [haproxy]=haproxy [wrk]=wrk [jq]=jq [curl]=curl [python3]=python3)
  local need=() tool sudo=""
  for tool in "${!package_of[@]}"; do
    command -v "$tool" >/dev/null || need+=("${package_of[$tool]}")
  done
  ((${#need[@]})) || return 0
  log "installing ${need[*]} (apt)"
  [[ $EUID -eq 0 ]] || sudo="sudo"
  # Debian's nginx and haproxy packages try to start their system services; in a container policy-rc.d refuses.
  # If one did start, it is left alone: this script only ever stops the PIDs it started itself.
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# A free TCP port on 127.0.0.1, chosen by the kernel. Another process could take it before nginx/haproxy bind it;
# that shows up as a start failure below, not as wrong figures.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls COMMAND until it succeeds, for at most SECONDS; fails with WHAT in the message.
wait_until() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out after ${seconds}s waiting for $what"
    sleep 0.2
  done
}

# --- processes we own --------------------------------------------------------------------------------------------

tmp=""
started=()        # PIDs this script started (flotilla, nginx master, haproxy), stopped in reverse order
declare -A seen=() # every PID that belongs to us (descendants included), checked at exit
flotilla_pid="" nginx_pid="" haproxy_pid="" net_http_pid="" net_tcp_pid="" net_epoll_pid=""
wrk_pid="" wrk_line="" # the wrk running now, if any; its report line

# Every PID of the tree rooted at $1: the process and its descendants.
process_tree() {
  local child
  echo "$1"
  for child in $(pgrep -P "$1" || true); do process_tree "$child"; done
}

remember_tree() {
  local pid
  for pid in $(process_tree "$1"); do seen[$pid]=1; done
}

# SIGTERM, then SIGKILL if still there after 30s (Flotilla gives its tasks stopTimeout=5s), then reap.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && { echo "proxy.sh: PID $pid ignored SIGTERM for 30s, sending SIGKILL" >&2; kill -KILL "$pid" 2>/dev/null; }
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$? i pid left=()
  set +eu
  trap - EXIT INT TERM
  [[ -n $wrk_pid ]] && stop_pid "$wrk_pid"
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    remember_tree "${started[i]}"
    stop_pid "${started[i]}"
  done
  # A worker or task outlives its parent only by a bug; give the kernel a moment to deliver the last signals.
  for ((i = 0; i < 50; i++)); do
    left=()
    for pid in "${!seen[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    [[ -n $tmp ]] && while read -r pid; do left+=("$pid"); done < <(pgrep -f -- "$tmp" || true)
    ((${#left[@]} == 0)) && break
    sleep 0.1
  done
  if ((${#left[@]})); then
    echo "proxy.sh: processes still running after cleanup: ${left[*]}" >&2
    ps -o pid,ppid,args -p "$(IFS=,; echo "${left[*]}")" >&2
    status=1
  elif ((${#started[@]})); then
    log "stopped everything it started (${#seen[@]} processes); pgrep finds none left"
  fi
  if [[ -n $tmp ]]; then
    if [[ $keep == 1 || $status != 0 ]]; then
      echo "proxy.sh: configs, logs and raw wrk output kept in $tmp" >&2
    else
      rm -rf "$tmp"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Flotilla ----------------------------------------------------------------------------------------------------

admin_url="" admin_token="" flotilla_addr="" flotilla_yarp_addr=""

api() { curl -sf --max-time 5 -H "Authorization: Bearer $admin_token" "$admin_url/api/v1/$1"; }

running_healthy_shop_tasks() {
  api 'tasks?service=shop&state=running' | jq -e '[.[] | select(.health == "healthy")] | length == 2' >/dev/null
}

start_flotilla() {
  local shop="$root/samples/Shop/bin/Release/net10.0/Shop.dll"
  [[ -f $shop ]] || die "missing $shop (the build should have made it)"
  mkdir -p "$tmp/flotilla"
  local quiet=""
  ((quiet_backends == 0)) || quiet=$'\n      DOTNET_ThreadPool_UnfairSemaphoreSpinLimit: "0"'
  # Port 0 everywhere: the kernel picks free ports and Flotilla writes the bound ones to admin.json.
  cat >"$tmp/flotilla/flotilla.yaml" <<EOF
admin:
  listen: 127.0.0.1:0
listeners:
  - name: bench
    listen: 127.0.0.1:0
    rules:
      - path: /
        service: shop
  - name: bench-yarp
    listen: 127.0.0.1:0
    fastPath: false
    rules:
      - path: /
        service: shop
services:
  shop:
    command: ["dotnet", "$shop"]
    env:
      ASPNETCORE_URLS: "http://127.0.0.1:\${PORT}"$quiet
    desired: 2
    loadBalancing: round_robin
    stopTimeout: 5s
    health: { path: /health, interval: 1s, timeout: 500ms, healthyThreshold: 2, unhealthyThreshold: 3, gracePeriod: 10s }
EOF
  # DOTNET_TC_CallCountingDelayMs=0 lets tiered JIT promote hot methods without its 100ms quiet-period delay, so
  # the warm-up converges sooner. Tasks inherit Flotilla's environment, so the Shop backends get it too (for all
  # four targets alike).
  DOTNET_TC_CallCountingDelayMs=0 dotnet "$root/src/Flotilla/bin/Release/net10.0/flotilla.dll" \
    up "$tmp/flotilla/flotilla.yaml" --state-dir "$tmp/flotilla/state" >"$tmp/flotilla/flotilla.log" 2>&1 &
  flotilla_pid=$!
  started+=("$flotilla_pid")
  seen[$flotilla_pid]=1

  local admin="$tmp/flotilla/state/admin.json"
  wait_until 60 "Flotilla's admin.json (see $tmp/flotilla/flotilla.log)" written "$admin" "$flotilla_pid" "$tmp/flotilla/flotilla.log"
  admin_url=$(jq -r .url "$admin")
  admin_token=$(jq -r .token "$admin")
  flotilla_addr=$(jq -r '.listeners.bench' "$admin")
  flotilla_yarp_addr=$(jq -r '.listeners["bench-yarp"]' "$admin")
  [[ $(jq -r .pid "$admin") == "$flotilla_pid" ]] || die "admin.json names PID $(jq -r .pid "$admin"), we started $flotilla_pid"
  wait_until 60 "2 healthy shop tasks (see $tmp/flotilla/flotilla.log)" running_healthy_shop_tasks
}

# Succeeds once FILE exists and is not empty; dies if PID has exited meanwhile, with the end of its LOG.
written() {
  [[ -s $1 ]] && return 0
  kill -0 "$2" 2>/dev/null || die "PID $2 exited; the end of $3:"$'\n'"$(tail -n 20 "$3")"
  return 1
}

# "PORT PID" of each running shop task, oldest first.
shop_tasks() { api 'tasks?service=shop&state=running' | jq -r '.[] | "\(.port) \(.pid)"'; }

# --- nginx and HAProxy -------------------------------------------------------------------------------------------

start_nginx() {
  local dir="$tmp/nginx" port
  port=$(free_port)
  nginx_addr="http://127.0.0.1:$port"
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<EOF
# Generated by bench/proxy.sh. Every path is inside $dir (nginx also runs with -p $dir/ and -e).
worker_processes $cores;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  # nginx closes a keep-alive connection after 1000 requests by default (client and upstream side); Kestrel,
  # YARP and HAProxy set no such limit, so lift it here rather than measure reconnects.
  keepalive_requests 1000000;
  upstream shop {
    server 127.0.0.1:$backend1;
    server 127.0.0.1:$backend2;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://shop;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # What YARP does by default: add X-Forwarded-*. Like YARP, nginx replaces Host with the upstream's name.
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
    }
  }
}
EOF
  nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" -t 2>"$dir/check.log" || die "nginx rejects its config: $(cat "$dir/check.log")"
  nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
  nginx_pid=$!
  started+=("$nginx_pid")
  seen[$nginx_pid]=1
  wait_until 10 "nginx on port $port (see $dir/error.log)" serves "$nginx_addr" "$nginx_pid"
}

start_haproxy() {
  local dir="$tmp/haproxy" port
  port=$(free_port)
  haproxy_addr="http://127.0.0.1:$port"
  mkdir -p "$dir"
  cat >"$dir/haproxy.cfg" <<EOF
# Generated by bench/proxy.sh. No 'log' line anywhere: no access log.
global
  nbthread $cores
  maxconn 4096
  pidfile $dir/haproxy.pid

defaults
  mode http
  option http-keep-alive
  # Any idle server connection can carry any request, like YARP's and nginx's upstream pools.
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 75s

frontend bench
  bind 127.0.0.1:$port
  # What Flotilla does: add X-Forwarded-*, keep the client's Host.
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend shop

backend shop
  balance roundrobin
  # The same active health check as Flotilla's spec: GET /health every 1s, 2 passes in, 3 failures out.
  option httpchk
  http-check send meth GET uri /health
  default-server check inter 1s rise 2 fall 3
  server s1 127.0.0.1:$backend1
  server s2 127.0.0.1:$backend2
EOF
  haproxy -c -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1 || die "haproxy rejects its config: $(cat "$dir/check.log")"
  # -db: foreground, no daemon; a single process with nbthread threads.
  haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
  haproxy_pid=$!
  started+=("$haproxy_pid")
  seen[$haproxy_pid]=1
  wait_until 10 "haproxy on port $port (see $dir/haproxy.log)" serves "$haproxy_addr" "$haproxy_pid"
}

# start_floor MODE: one bench/ProxyFloor process (http, tcp or epoll) in front of the two tasks; sets net_MODE_pid and _addr.
start_floor() {
  local mode=$1 port pid
  port=$(free_port)
  DOTNET_TC_CallCountingDelayMs=0 dotnet "$root/bench/ProxyFloor/bin/Release/net10.0/ProxyFloor.dll" "$mode" "$port" "$backend1,$backend2" \
    >"$tmp/net-$mode.log" 2>&1 &
  pid=$!
  started+=("$pid")
  seen[$pid]=1
  printf -v "net_${mode}_pid" '%s' "$pid"
  printf -v "net_${mode}_addr" '%s' "http://127.0.0.1:$port"
  wait_until 10 "ProxyFloor $mode on port $port (see $tmp/net-$mode.log)" serves "http://127.0.0.1:$port" "$pid"
}

# Succeeds once URL answers 200; dies if PID (the server behind it) has exited.
serves() {
  kill -0 "$2" 2>/dev/null || die "PID $2 exited before serving $1"
  curl -sf -o /dev/null --max-time 2 "$1$bench_path"
}

# How many distinct tasks (X-Task-Id) answer N requests on new connections: 2 through a proxy, 1 direct.
distinct_tasks() {
  local url=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    curl -sf -D - -o /dev/null --max-time 2 "$url$bench_path" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-task-id" { print $2 }'
  done | sort -u | wc -l
}

# --- measuring ---------------------------------------------------------------------------------------------------

declare -A url_of=()
# Clock ticks of user + system time (fields 14 and 15 of /proc/PID/stat) of the given PIDs; a gone PID counts 0.
cpu_ticks() {
  local total=0 pid stat fields
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -ra fields <<<"${stat##*) }" # the command name (field 2) may hold spaces; after ") " come fields 3…
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# The processes whose CPU counts as the proxy's: nginx's master and workers, HAProxy, Flotilla itself but not its
# tasks (they are the backends every target shares); none for direct.
proxy_pids() {
  case "$1" in
    flotilla | flotilla-yarp) echo "$flotilla_pid" ;;
    nginx) process_tree "$nginx_pid" ;;
    haproxy) process_tree "$haproxy_pid" ;;
    net-http) echo "$net_http_pid" ;;
    net-tcp) echo "$net_tcp_pid" ;;
    net-epoll) echo "$net_epoll_pid" ;;
    direct) ;;
  esac
}

# Runs wrk against URL for DURATION, writes its output to FILE and sets wrk_line to the machine-readable line that
# wrk-report.lua adds: "WRK requests=… duration_us=… status=… connect=… read=… write=… timeout=… p50_us=… p99_us=…".
# wrk runs in the background and the shell waits for it with `wait`: wrk catches SIGINT and exits 0 with a short
# report, so a Ctrl-C during a foreground wrk would not stop this script; a trapped signal does interrupt `wait`.
run_wrk() {
  local url=$1 dur=$2 file=$3 status=0
  wrk --latency -s "$tmp/wrk-report.lua" -t "$threads" -c "$connections" -d "$dur" "$url$bench_path" >"$file" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || status=$?
  wrk_pid=""
  if ((status != 0)); then
    cat "$file" >&2
    die "wrk failed (exit $status) against $url"
  fi
  wrk_line=$(grep '^WRK ' "$file") || die "no WRK line in wrk's output ($file)"
}

# field NAME LINE: the value of NAME=… in a WRK line.
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<" $2"; }

write_wrk_script() {
  # wrk's text summary rounds and changes units (us/ms/s, k/M); done() sees the raw counters.
  # summary.errors.status counts responses with a status >= 400, i.e. neither 2xx nor 3xx.
  cat >"$tmp/wrk-report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%.0f duration_us=%.0f status=%.0f connect=%.0f read=%.0f write=%.0f timeout=%.0f p50_us=%.0f p99_us=%.0f\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
EOF
}

rps_of() { awk -v r="$(field requests "$1")" -v d="$(field duration_us "$1")" 'BEGIN { printf "%.0f", r / (d / 1e6) }'; }

# Repeated short runs against Flotilla until RPS moves by less than 5% between two in a row (tiered JIT, the
# thread pool's hill climbing and the connection pools settle), at most WARMUP_MAX seconds.
warm_up() {
  local prev=0 spent=0 i=0 rps
  log "warming up Flotilla (and the backends): ${warmup_step}s runs until RPS changes < 5%, at most ${warmup_max}s"
  while :; do
    i=$((i + 1))
    run_wrk "$flotilla_addr" "${warmup_step}s" "$tmp/wrk/warmup-$i.txt"
    rps=$(rps_of "$wrk_line")
    spent=$((spent + warmup_step))
    if ((prev > 0)); then
      local change
      change=$(awk -v a="$rps" -v b="$prev" 'BEGIN { d = (a - b) / b * 100; printf "%.1f", d < 0 ? -d : d }')
      log "  warm-up $i: $rps req/s (${change}% from the previous run)"
      if awk -v c="$change" 'BEGIN { exit !(c < 5) }'; then
        return 0
      fi
    else
      log "  warm-up $i: $rps req/s"
    fi
    if ((spent >= warmup_max)); then
      log "  RPS still moving after ${spent}s; measuring anyway (noisy machine?)"
      return 0
    fi
    prev=$rps
  done
}

csv="" # the results file: one row per (round, target)

# measure ROUND TARGET: one wrk run with the CPU time of the proxy and of the two backends read before and after;
# appends a row to $csv. The backends' figure: a task that waits between requests spends more per request than a busy
# one (its thread pool spins or sleeps), so it follows the throughput the proxy lets through (bench/README.md).
measure() {
  local round=$1 target=$2 pids=() pid before after backends_before backends_after line
  mapfile -t pids < <(proxy_pids "$target")
  for pid in "${pids[@]}"; do seen[$pid]=1; done
  before=$(cpu_ticks "${pids[@]}")
  backends_before=$(cpu_ticks "$task1_pid" "$task2_pid")
  run_wrk "${url_of[$target]}" "$duration" "$tmp/wrk/$target-$round.txt"
  after=$(cpu_ticks "${pids[@]}")
  backends_after=$(cpu_ticks "$task1_pid" "$task2_pid")
  line=$wrk_line
  awk -v round="$round" -v target="$target" -v tck="$clk_tck" -v ticks=$((after - before)) -v proxy=${#pids[@]} \
    -v backend_ticks=$((backends_after - backends_before)) \
    -v req="$(field requests "$line")" -v dur="$(field duration_us "$line")" -v status="$(field status "$line")" \
    -v sock=$(($(field connect "$line") + $(field read "$line") + $(field write "$line") + $(field timeout "$line"))) \
    -v p50="$(field p50_us "$line")" -v p99="$(field p99_us "$line")" 'BEGIN {
      cpu = proxy ? sprintf("%.2f", ticks / tck) : ""
      per = proxy && req > 0 ? sprintf("%.1f", ticks / tck * 1e6 / req) : ""
      backend = req > 0 ? sprintf("%.1f", backend_ticks / tck * 1e6 / req) : ""
      printf "%d,%s,%d,%.2f,%.0f,%.3f,%.3f,%d,%d,%s,%s,%s\n", round, target, req, dur / 1e6, req / (dur / 1e6),
        p50 / 1000, p99 / 1000, status, sock, cpu, per, backend
    }' >>"$csv"
}

# --- reporting ---------------------------------------------------------------------------------------------------

targets=(flotilla flotilla-yarp haproxy nginx direct)
((floor == 0)) || targets+=(net-http net-tcp net-epoll)

# median TARGET COLUMN: the median of COLUMN (1-based, in $csv) over the target's rounds; empty if none.
median() {
  awk -F, -v t="$1" -v c="$2" 'NR > 1 && $2 == t && $c != "" { print $c }' "$csv" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR) printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B with 2 decimals, or "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

print_rounds() {
  echo
  echo "Per round (requests / measured seconds; latency in ms; cpu: the proxy process(es); backend: both Shop tasks):"
  printf "%-5s %-13s %10s %9s %9s %10s %8s %8s %8s %12s %14s\n" round target requests rps p50_ms p99_ms non2xx3xx sockerr cpu_s cpu_us/req backend_us/req
  tail -n +2 "$csv" | while IFS=, read -r round target req _ rps p50 p99 status sock cpu per backend; do
    printf "%-5s %-13s %10s %9s %9s %10s %8s %8s %8s %12s %14s\n" "$round" "$target" "$req" "$rps" "$p50" "$p99" "$status" "$sock" "${cpu:--}" "${per:--}" "${backend:--}"
  done
}

print_summary() {
  local h_rps h_p99 h_cpu h_backend t rps p50 p99 cpu backend shown_cpu errors
  h_rps=$(median haproxy 5) h_p99=$(median haproxy 7) h_cpu=$(median haproxy 11) h_backend=$(median haproxy 12)
  echo
  echo "Median over $rounds round(s) of ${duration} each (errors: total over all rounds; ratios: target / haproxy):"
  printf "%-13s %9s %8s %8s %11s %15s %7s %10s %10s %10s %14s\n" target rps p50_ms p99_ms cpu_us/req backend_us/req errors rps/hap p99/hap cpu/hap backend/hap
  for t in "${targets[@]}"; do
    rps=$(median "$t" 5) p50=$(median "$t" 6) p99=$(median "$t" 7) cpu=$(median "$t" 11) backend=$(median "$t" 12)
    errors=$(awk -F, -v t="$t" 'NR > 1 && $2 == t { n += $8 + $9 } END { print n + 0 }' "$csv")
    shown_cpu="-"
    [[ -z $cpu ]] || shown_cpu=$(printf "%.1f" "$cpu")
    printf "%-13s %9.0f %8.3f %8.3f %11s %15.1f %7s %10s %10s %10s %14s\n" "$t" "$rps" "$p50" "$p99" "$shown_cpu" "$backend" "$errors" \
      "$(ratio "$rps" "$h_rps")" "$(ratio "$p99" "$h_p99")" "$(ratio "$cpu" "$h_cpu")" "$(ratio "$backend" "$h_backend")"
  done
  print_paired
}

# Each target's RPS over HAProxy's in the same round, round by round: the pairs that interleaving makes, which the
# ratio of two medians above does not keep together.
print_paired() {
  echo
  echo "Round by round, rps / haproxy's rps in the same round (median of the rounds in brackets):"
  awk -F, 'NR > 1 { rps[$1, $2] = $5; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }; if ($1 > rounds) rounds = $1 }
    END {
      for (i = 1; i <= n; i++) {
        t = order[i]
        if (t == "haproxy") continue
        line = ""; k = 0; won = 0
        for (r = 1; r <= rounds; r++) {
          if (!((r, t) in rps) || !((r, "haproxy") in rps) || rps[r, "haproxy"] == 0) continue
          x = rps[r, t] / rps[r, "haproxy"]; v[++k] = x; won += x > 1; line = line sprintf(" %5.2f", x)
        }
        if (k == 0) continue
        for (a = 1; a <= k; a++) for (b = a + 1; b <= k; b++) if (v[b] < v[a]) { s = v[a]; v[a] = v[b]; v[b] = s }
        med = k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
        printf "%-13s%s  [%.2f]  higher in %d of %d\n", t, line, med, won, k
      }
    }' "$csv"
}

# --- main --------------------------------------------------------------------------------------------------------

install_missing
log "building Flotilla and the Shop sample (Release) if needed"
"$root/flotilla" --help >/dev/null
((floor == 0)) || dotnet build "$root/bench/ProxyFloor" -c Release --nologo -v quiet >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-bench-proxy.XXXXXX")
# nginx's workers run as 'nobody' when nginx is started by root: let them reach their temp dirs.
chmod 711 "$tmp"
mkdir -p "$tmp/wrk"
csv="$tmp/results.csv"
echo "round,target,requests,seconds,rps,p50_ms,p99_ms,non2xx3xx,socket_errors,cpu_s,cpu_us_per_req,backend_us_per_req" >"$csv"
write_wrk_script

log "starting Flotilla (2 Shop tasks) in $tmp"
start_flotilla
mapfile -t tasks < <(shop_tasks)
((${#tasks[@]} == 2)) || die "expected 2 running shop tasks, got ${#tasks[@]}"
read -r backend1 task1_pid <<<"${tasks[0]}"
read -r backend2 task2_pid <<<"${tasks[1]}"
seen[$task1_pid]=1
seen[$task2_pid]=1
log "Flotilla PID $flotilla_pid listening on $flotilla_addr; backends 127.0.0.1:$backend1 (PID $task1_pid) and 127.0.0.1:$backend2 (PID $task2_pid)"

start_haproxy
log "HAProxy PID $haproxy_pid on $haproxy_addr"
start_nginx
remember_tree "$nginx_pid"
log "nginx PID $nginx_pid (workers: $(pgrep -P "$nginx_pid" | paste -sd' ')) on $nginx_addr"

url_of=([flotilla]=$flotilla_addr [flotilla-yarp]=$flotilla_yarp_addr [haproxy]=$haproxy_addr [nginx]=$nginx_addr [direct]="http://127.0.0.1:$backend1")
if ((floor)); then
  start_floor http
  start_floor tcp
  start_floor epoll
  log "ProxyFloor net-http PID $net_http_pid on $net_http_addr, net-tcp PID $net_tcp_pid on $net_tcp_addr, net-epoll PID $net_epoll_pid on $net_epoll_addr"
  url_of+=([net-http]=$net_http_addr [net-tcp]=$net_tcp_addr [net-epoll]=$net_epoll_addr)
fi
# Each proxy must spread requests over both backends, or it is not the comparison we mean to make.
for t in "${targets[@]}"; do
  [[ $t != direct ]] || continue
  n=$(distinct_tasks "${url_of[$t]}" 6)
  [[ $n == 2 ]] || die "$t answered from $n distinct task(s) in 6 requests, expected 2"
done

warm_up
# One short unmeasured run on each other target: opens their connection pools and warms their caches. The bare .NET
# proxies and Flotilla's YARP listener need their JIT warm-up too: two runs as long as Flotilla's warm-up steps.
for t in "${targets[@]:1}"; do
  case $t in
    flotilla-yarp | net-*) run_wrk "${url_of[$t]}" "${warmup_step}s" "$tmp/wrk/prime-$t.txt"; run_wrk "${url_of[$t]}" "${warmup_step}s" "$tmp/wrk/prime-$t.txt" ;;
    *) run_wrk "${url_of[$t]}" 2s "$tmp/wrk/prime-$t.txt" ;;
  esac
done

cat <<EOF

Machine: $cores cores, $(uname -sr); $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | awk '{ print "HAProxy", $3 }'), $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }'), .NET SDK $(dotnet --version)
Load: wrk -t $threads -c $connections -d $duration --latency $bench_path; $rounds round(s) of: ${targets[*]}
Backends: 2 Shop tasks, .NET thread-pool spin-waiting $( ((quiet_backends)) && echo "off (--quiet-backends)" || echo "on (.NET's default)")
EOF

for ((round = 1; round <= rounds; round++)); do
  for t in "${targets[@]}"; do
    log "round $round/$rounds: $t"
    measure "$round" "$t"
  done
done

# If a backend died and Flotilla replaced it, nginx and HAProxy were pointing at a dead port: say so.
tasks_changed=0
if [[ $(shop_tasks | sort) != $(printf '%s\n' "${tasks[@]}" | sort) ]]; then
  tasks_changed=1
  echo "WARNING: the shop tasks changed during the run; nginx/HAProxy figures are not comparable. Tasks now:" >&2
  shop_tasks >&2
fi

print_rounds
print_summary
if [[ $write_csv == 1 ]]; then
  mkdir -p "$root/bench/results"
  out="$root/bench/results/proxy-$(date +%Y%m%d-%H%M%S).csv"
  cp "$csv" "$out"
  echo
  echo "CSV: ${out#"$root"/}"
fi
# Figures printed, but a run whose backends changed under nginx and HAProxy must not pass for a good one.
((tasks_changed == 0)) || exit 1
