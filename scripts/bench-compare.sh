#!/usr/bin/env bash
# bench-compare.sh — schemakv against etcd 3.4 on this machine, in one run.
#
#   scripts/bench-compare.sh            full run (about 9 minutes)
#   scripts/bench-compare.sh -quick     short run (about 2.5 minutes)
#   scripts/bench-compare.sh -restart-entries 100000,1000000   adds the long restart test
#
# Installs Debian's etcd-server if /usr/bin/etcd is missing (needs root, for
# apt-get), builds bin/schemakv and the bench tool, runs the tool (which
# starts and stops both clusters itself, on loopback only), writes
# bench/results/<UTC date and time>.md and prints the table. Extra arguments
# go to schemakv-bench (see `bench/schemakv-bench -h`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

ETCD="${ETCD:-/usr/bin/etcd}"
if [ ! -x "$ETCD" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench-compare: $ETCD is missing and installing etcd-server needs root: run as root, or 'sudo apt-get install etcd-server'" >&2
    exit 1
  fi
  echo "== installing etcd-server (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
  # The package may start its own etcd on 127.0.0.1:2379; the benchmark uses
  # its own processes on other addresses, so stop that one if it runs.
  if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
    systemctl stop etcd || true
    systemctl disable etcd 2>/dev/null || true
  elif command -v service >/dev/null; then
    service etcd stop >/dev/null 2>&1 || true
  fi
fi

echo "== building bin/schemakv and bench/schemakv-bench"
make build
(cd bench && go build -o schemakv-bench ./cmd/schemakv-bench)

mkdir -p bench/results
suffix=""
for a in "$@"; do [ "$a" = "-quick" ] && suffix="-quick"; done
out="bench/results/$(date -u +%Y-%m-%d-%H%M)$suffix.md"
echo "== running (log on stderr; report: $out)"
bench/schemakv-bench -schemakv bin/schemakv -etcd "$ETCD" \
  -schemakv-version "$(git describe --tags --always --dirty 2>/dev/null || echo dev)" \
  -out "$out" "$@" >/dev/null
cat "$out"
echo
echo "report written to $out"
