#!/usr/bin/env bash
# A local schemakv cluster of processes, without Docker: node i listens on
# 127.0.0.i (Linux routes all of 127.0.0.0/8 to the loopback interface), on
# the same ports on every address:
#
#   HTTP API  127.0.0.i:7400    raft + cluster RPC  127.0.0.i:7401
#   gossip    127.0.0.i:7402 (TCP and UDP)
#
# Usage: scripts/cluster.sh COMMAND [ARG]
#
#   start [N]     start nodes 1..N (default: the nodes already created, or 3
#                 voters for a new cluster) and wait until each one answers;
#                 nodes already running are left alone. The first start
#                 forms a cluster of N voters (--bootstrap-expect N); a later
#                 `start N` with a larger N adds servers that join it.
#   replica       add one read replica (the next node number) and start it
#   stop [I]      SIGTERM every node, or only node I, and wait for it to exit
#   kill I        SIGKILL node I (a crash; `start` brings it back)
#   status [I]    each node's process, then GET /v1/cluster as seen by node I
#                 (default: the first node that answers)
#   wait-ready [I]  wait until every node (or node I) answers /v1/ready
#   clean         stop every node and delete the cluster's data and logs
#
# Everything lives under cluster-data/ in the repository root
# (CLUSTER_DIR to move it): nI/data, nI/server.log, nI/pid and nI/args, and
# admin-token (mode 0600): the cluster's bootstrap admin token, generated on
# the first start and given to every node (SCHEMAKV_BOOTSTRAP_TOKEN). Use it
# with the CLI: bin/schemakv --token-file cluster-data/admin-token ...
#
# Environment:
#   SCHEMAKV_BIN   the binary (default bin/schemakv, built with `make build`
#                  when missing)
#   CLUSTER_DIR    state directory (default <repo>/cluster-data)
#   CLUSTER_PORT   the HTTP port; raft and gossip use the next two (7400)
#   CLUSTER_ARGS   extra `schemakv server` flags for nodes started now,
#                  e.g. CLUSTER_ARGS="--reap-after 1m --log-level debug"
#   WAIT_SECONDS   how long start/stop/wait-ready wait per node (60)
#
# Node 1 uses 127.0.0.1:7400, the address of `make run`: do not run both.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${SCHEMAKV_BIN:-$ROOT/bin/schemakv}
DIR=${CLUSTER_DIR:-$ROOT/cluster-data}
PORT=${CLUSTER_PORT:-7400}
WAIT=${WAIT_SECONDS:-60}
# Our own children must not read the caller's SCHEMAKV_* settings (the
# server reads every flag from SCHEMAKV_<FLAG>); the flags below are all
# they get.
CLEAN_ENV=(env)
while IFS='=' read -r name _; do
  case $name in SCHEMAKV_*) CLEAN_ENV+=(-u "$name") ;; esac
done < <(env)

TOKEN_FILE=$DIR/admin-token

die() { echo "cluster.sh: $*" >&2; exit 1; }

# ensure_token creates the cluster's admin token once (32 random bytes).
ensure_token() {
  [ -s "$TOKEN_FILE" ] && return 0
  mkdir -p "$DIR"
  (umask 077 && printf 'skv_%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TOKEN_FILE")
}

# auth is the curl header with the admin token.
auth() { printf 'Authorization: Bearer %s' "$(cat "$TOKEN_FILE" 2>/dev/null)"; }
say() { echo "cluster.sh: $*"; }

usage() {
  sed -n '/^# Usage:/,/^# Node 1 uses/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

need_tools() {
  command -v curl >/dev/null || die "curl is needed"
  if [ ! -x "$BIN" ]; then
    if [ -z "${SCHEMAKV_BIN:-}" ]; then
      say "building $BIN (make build)"
      make -C "$ROOT" build >/dev/null
    fi
    [ -x "$BIN" ] || die "no binary at $BIN"
  fi
}

ip_of()   { echo "127.0.0.$1"; }
http_of() { echo "$(ip_of "$1"):$PORT"; }
url_of()  { echo "http://$(http_of "$1")"; }
ndir()    { echo "$DIR/n$1"; }

# nodes prints the node numbers that exist, in order.
nodes() {
  [ -d "$DIR" ] || return 0
  local d
  for d in "$DIR"/n*; do
    [ -f "$d/args" ] || continue
    echo "${d##*/n}"
  done | sort -n
}

# pid_of prints node i's pid if that process is running this node.
pid_of() {
  local f pid
  f="$(ndir "$1")/pid"
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: the process must be ours.
  ps -p "$pid" -o args= 2>/dev/null | grep -qF -- "--data-dir $(ndir "$1")/data" || return 1
  echo "$pid"
}

http_code() { # url -> status code, 000 when nothing answers
  curl -s -o /dev/null -m 2 -w '%{http_code}' -H "$(auth)" "$1" 2>/dev/null || true
}

# create writes node i's flags once; they are reused on every start.
create() {
  local i=$1 role=$2 expect=$3 join="" j
  for j in $(seq 1 "$4"); do
    [ "$j" = "$i" ] && continue
    join="${join:+$join,}$(ip_of "$j"):$((PORT + 2))"
  done
  mkdir -p "$(ndir "$i")"
  {
    echo server
    echo --node-id; echo "n$i"
    echo --data-dir; echo "$(ndir "$i")/data"
    echo --http-addr; http_of "$i"
    echo --raft-addr; echo "$(ip_of "$i"):$((PORT + 1))"
    echo --gossip-addr; echo "$(ip_of "$i"):$((PORT + 2))"
    echo --log-format; echo json
    if [ -n "$join" ]; then echo --join; echo "$join"; fi
    case $role in
      voter)   echo --bootstrap-expect; echo "$expect" ;;
      replica) echo --read-replica ;;
    esac
  } >"$(ndir "$i")/args"
  case $role in replica) echo replica ;; *) echo voter ;; esac >"$(ndir "$i")/role"
}

launch() {
  ensure_token
  local i=$1 pid d
  d=$(ndir "$i")
  if pid=$(pid_of "$i"); then
    say "n$i already running (pid $pid)"
    return 0
  fi
  local args=()
  mapfile -t args <"$d/args"
  # shellcheck disable=SC2206 # CLUSTER_ARGS is split on purpose
  [ -n "${CLUSTER_ARGS:-}" ] && args+=($CLUSTER_ARGS)
  # A port still held by something else would make the node exit at once.
  if [ "$(http_code "$(url_of "$i")/v1/health")" != 000 ]; then
    die "something already answers on $(url_of "$i") (make run? another cluster?)"
  fi
  echo "--- start $(date -u +%FT%TZ): $BIN ${args[*]}" >>"$d/server.log"
  # setsid: the node is not in the caller's process group, so a Ctrl-C in
  # this terminal later does not reach it.
  if command -v setsid >/dev/null; then
    setsid "${CLEAN_ENV[@]}" SCHEMAKV_BOOTSTRAP_TOKEN="$(cat "$TOKEN_FILE")" "$BIN" "${args[@]}" >>"$d/server.log" 2>&1 </dev/null &
  else
    nohup "${CLEAN_ENV[@]}" SCHEMAKV_BOOTSTRAP_TOKEN="$(cat "$TOKEN_FILE")" "$BIN" "${args[@]}" >>"$d/server.log" 2>&1 </dev/null &
  fi
  echo $! >"$d/pid"
  say "n$i started (pid $!) on $(url_of "$i"), log $d/server.log"
}

wait_health() {
  local i=$1 t=0
  until [ "$(http_code "$(url_of "$i")/v1/health")" = 200 ]; do
    pid_of "$i" >/dev/null || { tail -n 20 "$(ndir "$i")/server.log" >&2; die "n$i exited; see $(ndir "$i")/server.log"; }
    t=$((t + 1))
    [ $t -le $((WAIT * 5)) ] || die "n$i: /v1/health did not answer 200 within ${WAIT}s"
    sleep 0.2
  done
}

wait_ready() {
  local i=$1 t=0 code
  while :; do
    code=$(http_code "$(url_of "$i")/v1/ready")
    [ "$code" = 200 ] && return 0
    t=$((t + 1))
    if [ $t -gt $((WAIT * 5)) ]; then
      echo "n$i: /v1/ready is $code after ${WAIT}s:" >&2
      curl -s -m 2 -H "$(auth)" "$(url_of "$i")/v1/ready" >&2 || true
      echo >&2
      return 1
    fi
    sleep 0.2
  done
}

cmd_start() {
  need_tools
  local existing want i expect role
  existing=$(nodes | tail -n 1)
  existing=${existing:-0}
  want=${1:-}
  if [ -z "$want" ]; then
    want=$existing
    [ "$want" -gt 0 ] || want=3
  fi
  if ! [[ $want =~ ^[0-9]+$ ]] || [ "$want" -lt 1 ] || [ "$want" -gt 250 ]; then
    die "start: N must be 1..250"
  fi
  if [ "$existing" -eq 0 ]; then
    # A new cluster: N voters that bootstrap together.
    for i in $(seq 1 "$want"); do create "$i" voter "$want" "$want"; done
    echo "$want" >"$DIR/expect"
  else
    # Nodes beyond the existing ones are new servers joining the cluster
    # (no --bootstrap-expect: they wait to be added by the leader).
    for i in $(seq $((existing + 1)) "$want"); do create "$i" joiner 0 "$want"; done
  fi
  for i in $(seq 1 "$want"); do
    [ -f "$(ndir "$i")/args" ] || continue
    launch "$i"
  done
  for i in $(seq 1 "$want"); do
    [ -f "$(ndir "$i")/args" ] && wait_health "$i"
  done
  say "every node answers /v1/health; ask: scripts/cluster.sh status"
}

cmd_replica() {
  need_tools
  local last i
  last=$(nodes | tail -n 1)
  [ -n "$last" ] || die "no cluster yet: run start first"
  i=$((last + 1))
  create "$i" replica 0 "$last"
  launch "$i"
  wait_health "$i"
}

stop_one() {
  local i=$1 sig=$2 pid t=0
  pid=$(pid_of "$i") || { say "n$i is not running"; return 0; }
  kill "-$sig" "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    t=$((t + 1))
    [ $t -le $((WAIT * 5)) ] || die "n$i (pid $pid) still running ${WAIT}s after SIG$sig"
    sleep 0.2
  done
  rm -f "$(ndir "$i")/pid"
  say "n$i stopped (SIG$sig)"
}

cmd_stop() {
  local i
  if [ -n "${1:-}" ]; then
    [ -f "$(ndir "$1")/args" ] || die "no node $1"
    stop_one "$1" TERM
    return
  fi
  # Replicas and followers first, the leader last, so that the cluster
  # keeps a leader (and every node leaves cleanly) for as long as it can.
  local leader="" order=()
  for i in $(nodes); do
    if curl -s -m 2 "$(url_of "$i")/v1/health" 2>/dev/null | grep -q '"leader":true'; then
      leader=$i
    else
      order+=("$i")
    fi
  done
  [ -n "$leader" ] && order+=("$leader")
  for i in "${order[@]}"; do stop_one "$i" TERM; done
}

cmd_kill() {
  [ -n "${1:-}" ] || die "kill: which node?"
  [ -f "$(ndir "$1")/args" ] || die "no node $1"
  stop_one "$1" KILL
}

cmd_status() {
  local i pid ask="${1:-}" state
  [ -n "$(nodes)" ] || { say "no cluster in $DIR"; return 0; }
  printf '%-4s %-8s %-8s %-22s %s\n' NODE ROLE PID API HEALTH
  for i in $(nodes); do
    pid=$(pid_of "$i" || echo -)
    state=$(http_code "$(url_of "$i")/v1/health")
    [ "$state" = 000 ] && state=down
    printf '%-4s %-8s %-8s %-22s %s\n' "n$i" "$(cat "$(ndir "$i")/role")" "$pid" "$(url_of "$i")" "$state"
    if [ -z "$ask" ] && [ "$state" = 200 ]; then ask=$i; fi
  done
  echo
  [ -n "$ask" ] || { say "no node answers"; return 1; }
  echo "GET $(url_of "$ask")/v1/cluster"
  if [ -x "$BIN" ]; then
    "${CLEAN_ENV[@]}" "$BIN" cluster status --addr "$(url_of "$ask")" --token-file "$TOKEN_FILE"
  else
    curl -s -m 10 -H "$(auth)" "$(url_of "$ask")/v1/cluster"
    echo
  fi
}

cmd_wait_ready() {
  local i rc=0
  for i in ${1:-$(nodes)}; do wait_ready "$i" || rc=1; done
  [ $rc = 0 ] && say "ready: ${1:-$(nodes | tr '\n' ' ')}"
  return $rc
}

cmd_clean() {
  local i
  for i in $(nodes); do
    pid_of "$i" >/dev/null && stop_one "$i" TERM
  done
  rm -rf "$DIR"
  say "removed $DIR"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
  start)      cmd_start "$@" ;;
  replica)    cmd_replica ;;
  stop)       cmd_stop "$@" ;;
  kill)       cmd_kill "$@" ;;
  status)     cmd_status "$@" ;;
  wait-ready) cmd_wait_ready "$@" ;;
  clean)      cmd_clean ;;
  -h|--help|help) usage ;;
  *)          usage ;;
esac
