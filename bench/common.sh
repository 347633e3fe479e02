# Sourced by the bench scripts (after setting $root): the tools they need, one build outside the measurement, a temp
# dir ($work) and PID-tracked cleanup: every PID added to $pids is stopped on exit, also when interrupted.
bench_init() {
  local tool
  for tool in "$@"; do command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }; done
  "$root/flotilla" --help >/dev/null
  work="$(mktemp -d)"
  pids=()
  trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
