#!/bin/sh
# Start or stop a Docker engine for the compose lab on a machine that has none
# running (a CI runner, a VM without systemd). As root; Debian's docker.io.
#
#   scripts/dockerd.sh start    # dockerd in the background, waits until it answers
#   scripts/dockerd.sh stop     # ends that dockerd by the PID it wrote, waits for it
#   scripts/dockerd.sh status
#
# The engine is configured for a loopback-only lab: no bridge (--bridge=none),
# no iptables/ip6tables rules, no userland proxy. Containers of the compose
# files use host networking and bind 127.0.0.x addresses; an engine started
# this way cannot give a container an address on a private range.
#
# State lives in $GVOS_DOCKER_ROOT (default /var/lib/gvos-sim-docker), the
# socket is $GVOS_DOCKER_SOCK (default /var/run/docker.sock, where the docker
# CLI and testcontainers look), the log in $GVOS_DOCKER_ROOT/dockerd.log.
set -eu

ROOT=${GVOS_DOCKER_ROOT:-/var/lib/gvos-sim-docker}
SOCK=${GVOS_DOCKER_SOCK:-/var/run/docker.sock}
PIDFILE="$ROOT/dockerd.pid"
LOG="$ROOT/dockerd.log"

answers() {
  docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

case "${1:-}" in
  start)
    if [ "$(id -u)" != 0 ]; then
      echo "dockerd.sh: must run as root (dockerd needs it)" >&2
      exit 1
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
      echo "dockerd.sh: no dockerd; install Debian's engine: apt-get install -y --no-install-recommends docker.io" >&2
      exit 1
    fi
    if answers; then
      echo "dockerd.sh: an engine already answers on $SOCK; leaving it alone" >&2
      exit 0
    fi
    mkdir -p "$ROOT"
    # containerd and runc come with docker.io; dockerd starts its own containerd.
    nohup dockerd \
      --data-root "$ROOT/data" \
      --exec-root "$ROOT/exec" \
      --pidfile "$PIDFILE" \
      --host "unix://$SOCK" \
      --bridge=none \
      --iptables=false \
      --ip6tables=false \
      --ip-forward=false \
      --ip-masq=false \
      --userland-proxy=false \
      >"$LOG" 2>&1 &
    i=0
    while ! answers; do
      i=$((i + 1))
      if [ "$i" -gt 60 ]; then
        echo "dockerd.sh: dockerd did not answer within 60 s; its log ($LOG) ends:" >&2
        tail -20 "$LOG" >&2
        exit 1
      fi
      sleep 1
    done
    echo "dockerd.sh: engine $(docker -H "unix://$SOCK" version --format '{{.Server.Version}}') answers on $SOCK (pid $(cat "$PIDFILE"))"
    ;;
  stop)
    if [ ! -f "$PIDFILE" ]; then
      echo "dockerd.sh: no $PIDFILE: no engine started by this script" >&2
      exit 0
    fi
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      i=0
      while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 30 ]; then
          echo "dockerd.sh: dockerd $pid still running after 30 s" >&2
          exit 1
        fi
        sleep 1
      done
    fi
    rm -f "$PIDFILE"
    echo "dockerd.sh: engine $pid stopped"
    ;;
  status)
    if answers; then
      echo "answers on $SOCK"
    else
      echo "no engine answers on $SOCK"
      exit 1
    fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
