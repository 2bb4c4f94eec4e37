#!/bin/sh
# Soak run of the fault tests: kill -9, SIGSTOP and iptables partitions of a
# 3-voter + 1-replica process cluster on 127.0.0.11-14, cycling through the
# faults for DURATION (a Go duration; default 10m), every fault's history
# checked with porcupine. Partitions need root and iptables; without them
# those phases skip with a loud message.
#
#   scripts/chaos.sh 10m           (make chaos DURATION=10m)
#   SCHEMAKV_ARTIFACTS=out scripts/chaos.sh 1h
#
# On a violation the porcupine visualisation (.html) and every node's log are
# written to $SCHEMAKV_ARTIFACTS (default: a new /tmp/schemakv-artifacts-*),
# and their paths are printed.
set -eu
DURATION=${1:-${DURATION:-10m}}
cd "$(dirname "$0")/.."
# go test's own timeout: the soak plus 15 minutes for start-up and the last
# phase, in seconds.
TIMEOUT=$(printf '%s\n' "$DURATION" | awk '
	{ s = 0; d = $0
	  while (match(d, /^[0-9.]+(h|ms|m|s)/)) {
		tok = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
		n = tok + 0; u = tok; sub(/^[0-9.]+/, "", u)
		if (u == "h") s += n * 3600; else if (u == "m") s += n * 60; else if (u == "s") s += n; else s += n / 1000
	  }
	  if (d != "" || $0 == "") { print "bad"; exit }
	  printf "%ds\n", s + 900 }')
if [ "$TIMEOUT" = bad ]; then
	echo "chaos.sh: DURATION must be a Go duration such as 10m or 1h30m, not '$DURATION'" >&2
	exit 2
fi
SCHEMAKV_CHAOS_DURATION=$DURATION exec go test -count=1 -timeout "$TIMEOUT" \
	-run 'TestFault_Linearizable_Processes' -v ./systemtest/
