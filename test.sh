#!/usr/bin/env bash
# Runs every test of Flotilla from a fresh clone: installs what the tests need when it is missing, builds, tests.
# Extra arguments go to `dotnet test` (e.g. ./test.sh --project test/Flotilla.Tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# promtool (Debian's prometheus package) checks the /metrics exposition; setpriv and setsid (util-linux) run tasks.
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v setpriv >/dev/null && command -v setsid >/dev/null || need+=(util-linux)
# python3 runs a minimal HTTP task in the fast-path tests (a server with a 1s keep-alive timeout).
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
  echo "test.sh: installing ${need[*]} (apt)" >&2
  sudo=""
  [[ $EUID -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

dotnet build Flotilla.slnx -c Release --nologo -v quiet
if (($# == 0)); then
  set -- --solution Flotilla.slnx
fi
dotnet test -c Release --no-build "$@"
