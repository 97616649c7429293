#!/usr/bin/env bash
# Make this machine ready for the demo and the tests: a Docker engine that answers, Debian's
# docker-registry, htpasswd, debootstrap, wrk (the benchmarks' load generator) and apt lists that know haproxy
# (the Swarm tests' load balancer, built from its .deb). Never touches an engine that already runs.
# Also chromium and curl for the console's browser tests (Playwright drives chromium itself: no chromedriver).
# Installs (Debian, as root) only what is missing; dockerd's log goes to $UAIPACK_LOG_DIR.
set -euo pipefail

LOG_DIR=${UAIPACK_LOG_DIR:-/var/log/uaipack}
NEEDED_COMMANDS=(dockerd:docker.io docker-registry:docker-registry htpasswd:apache2-utils debootstrap:debootstrap wrk:wrk chromium:chromium curl:curl)

say() { printf 'bootstrap: %s\n' "$*"; }
fail() { printf 'bootstrap: %s\n' "$*" >&2; exit 1; }
engine_answers() { docker info >/dev/null 2>&1; }

missing_packages() {
  local pair missing=()
  for pair in "${NEEDED_COMMANDS[@]}"; do
    local cmd=${pair%%:*} pkg=${pair#*:}
    if [ "$cmd" = dockerd ] && engine_answers; then continue; fi
    PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  echo "${missing[@]:-}"
}

install_packages() {
  local packages=$1
  [ -z "$packages" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    fail "missing: $packages; install them (Debian: sudo apt-get install $packages) and start dockerd, then run this again"
  fi
  say "installing Debian packages: $packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $packages >"$LOG_DIR/apt.log" 2>&1 \
    || fail "apt-get install $packages failed; see $LOG_DIR/apt.log"
}

# The Swarm tests' load balancer image is built offline from Debian's haproxy package, which
# `apt-get download` fetches (bench/haproxy.py): apt's package lists must know it.
ensure_apt_lists() {
  apt-cache policy haproxy 2>/dev/null | grep -q 'Candidate: [0-9]' && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
    || fail "apt's package lists do not know haproxy; run apt-get update as root, then run this again"
  say "apt-get update (the Swarm tests' load balancer is built from Debian's haproxy package)"
  apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 || fail "apt-get update failed; see $LOG_DIR/apt.log"
}

start_engine() {
  engine_answers && { say "Docker engine answers (left as it is)"; return 0; }
  [ "$(id -u)" = 0 ] || fail "no Docker engine answers and we are not root: start dockerd (or ask an admin), then run this again"
  # A pid file left by a dockerd that was killed (machines are kept, processes are not).
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -n "$pid" ] && ! grep -qs dockerd "/proc/$pid/cmdline"; then
    rm -f /var/run/docker.pid
  fi
  say "starting dockerd in the background (log: $LOG_DIR/dockerd.log)"
  nohup /usr/sbin/dockerd >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  local deadline=$((SECONDS + 60))
  until engine_answers; do
    [ $SECONDS -lt $deadline ] || fail "dockerd did not answer within 60 s; see $LOG_DIR/dockerd.log"
    sleep 0.5
  done
  say "Docker engine answers ($(docker version --format '{{.Server.Version}}'))"
}

mkdir -p "$LOG_DIR" 2>/dev/null || LOG_DIR=$(mktemp -d)
install_packages "$(missing_packages)"
ensure_apt_lists
start_engine
