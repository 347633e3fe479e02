#!/usr/bin/env bash
# Measures what an idle keep-alive client connection costs Flotilla's load balancer in memory: opens N connections to
# a fast-path listener (one Shop task behind it), sends one request on each, reads its response, leaves them all open
# and idle, and reports the growth of Flotilla's resident set (VmRSS) per connection. Twice per round: after a GET, and
# after a POST of a body (default 60,000 bytes, under the fast path's 64 KiB buffering limit) on fresh connections.
# Usage: bench/idle-connections.sh [CONNECTIONS] [ROUNDS] [BODY_BYTES]   (defaults 1000, 2, 60000). Needs jq and python3.
# RSS includes whatever the runtime's heaps grew by, so the first round reads higher than the later ones.
# Everything it starts is stopped by PID on exit, also when interrupted.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
connections="${1:-1000}"
rounds="${2:-2}"
body="${3:-60000}"
source "$root/bench/common.sh"
bench_init jq python3

cat >"$work/flotilla.yaml" <<EOF
admin:
  listen: 127.0.0.1:0
listeners:
  - name: web
    listen: 127.0.0.1:0
    rules:
      - service: shop
services:
  shop:
    command: ["dotnet", "$root/samples/Shop/bin/Release/net10.0/Shop.dll"]
    env: { ASPNETCORE_URLS: "http://127.0.0.1:\${PORT}" }
    desired: 1
    health: { path: /health, interval: 1s, timeout: 500ms, healthyThreshold: 2 }
EOF

dotnet "$root/src/Flotilla/bin/Release/net10.0/flotilla.dll" up "$work/flotilla.yaml" --state-dir "$work/state" >"$work/up.log" 2>&1 &
flotilla=$!
pids+=("$flotilla")
until [[ -f $work/state/admin.json ]]; do kill -0 "$flotilla" || { cat "$work/up.log" >&2; exit 1; }; sleep 0.1; done
admin=$(jq -r .url "$work/state/admin.json"); token=$(jq -r .token "$work/state/admin.json"); web=$(jq -r .listeners.web "$work/state/admin.json")
until [[ $(curl -sf -H "Authorization: Bearer $token" "$admin/api/v1/tasks?service=shop&state=running" | jq '[.[] | select(.health=="healthy")] | length') == 1 ]]; do sleep 0.2; done

# One run: N connections, one request each (a GET, or a POST of BODY bytes), read, left idle; RSS growth per connection.
cat >"$work/idle.py" <<'EOF'
import socket, sys, time
port, n, pid, body = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def rss():
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
request = (b"POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: %d\r\n\r\n" % body + b"x" * body) if body else b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
before = rss()
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("the load balancer closed a connection before answering")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        sys.exit("unexpected answer: " + answer.split(b"\r\n")[0].decode())
    held.append(s)
time.sleep(2)
print(f"{(rss() - before) * 1024 / n / 1000:.1f}")
EOF

port="${web##*:}"
printf "%-6s %-12s %-22s %-22s\n" round connections "KB/conn after a GET" "KB/conn after a ${body}-byte POST"
for ((i = 1; i <= rounds; i++)); do
  get=$(python3 "$work/idle.py" "$port" "$connections" "$flotilla" 0)
  sleep 2   # the previous run's connections close
  post=$(python3 "$work/idle.py" "$port" "$connections" "$flotilla" "$body")
  sleep 2
  printf "%-6s %-12s %-22s %-22s\n" "$i" "$connections" "$get" "$post"
done
