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
# go test's own timeout: the soak, plus room for start-up and the last phase.
TIMEOUT=$(go run - "$DURATION" <<'GO'
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	d, err := time.ParseDuration(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "DURATION:", err)
		os.Exit(2)
	}
	fmt.Println(d + 15*time.Minute)
}
GO
)
SCHEMAKV_CHAOS_DURATION=$DURATION exec go test -count=1 -timeout "$TIMEOUT" \
	-run 'TestFault_Linearizable_Processes' -v ./systemtest/
