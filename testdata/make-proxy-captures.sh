#!/usr/bin/env bash
# Regenerates the reverse-proxy captures in captures/: a Python websockets
# client talks to nginx on 127.0.0.1, nginx proxies to a Python websockets
# echo server on 127.0.0.1. Both legs (client->proxy, proxy->backend) are
# captured on lo with a filter on both ports.
#
#   ./make-proxy-captures.sh [nginx_ok nginx_http10 nginx_no_upgrade_headers
#                             haproxy_ok haproxy_timeout]
#
# The nginx and HAProxy configs are the templates in proxies/; nginx runs in
# the foreground with a prefix in a temporary directory, HAProxy in the
# foreground (-db); both are stopped by PID.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NGINX_PID=""
stop_nginx() {
  if [ -n "$NGINX_PID" ]; then
    kill "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
    sed 's/^/   [nginx] /' "$WORK/nginx.err" >&2 || true
  fi
}
HAPROXY_PID=""
stop_haproxy() {
  if [ -n "$HAPROXY_PID" ]; then
    kill "$HAPROXY_PID" 2>/dev/null || true
    wait "$HAPROXY_PID" 2>/dev/null || true
    HAPROXY_PID=""
    sed 's/^/   [haproxy] /' "$WORK/haproxy.err" >&2 || true
  fi
}
trap 'stop_nginx; stop_haproxy; cleanup' EXIT

# nginx_capture NAME PROXY-PORT BACKEND-PORT CLIENT-SCENARIO
nginx_capture() {
  local name="$1" pport="$2" bport="$3" scenario="$4"
  local f="$CAPS/$name.pcap" prefix="$WORK/$name"
  say "$name: websockets client -> nginx :$pport -> websockets server :$bport"
  mkdir -p "$prefix/tmp" "$prefix/logs"
  sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
    "$HERE/proxies/$name.conf" >"$prefix/nginx.conf"
  nginx -t -q -c "$prefix/nginx.conf" -p "$prefix/" -g 'daemon off;'
  start_capture tcpdump "$f" "tcp port $pport or tcp port $bport" -i lo
  start_server SRV_PID "$PY" "$PEERS/pypeer.py" server --port "$bport"
  : >"$WORK/nginx.err"
  nginx -c "$prefix/nginx.conf" -p "$prefix/" -g 'daemon off;' 2>"$WORK/nginx.err" &
  NGINX_PID=$!
  local i
  for i in $(seq 1 50); do
    grep -q 'start worker process' "$WORK/nginx.err" && break
    sleep 0.1
  done
  sleep 0.3
  "$PY" "$PEERS/pypeer.py" client "$scenario" --port "$pport" || true
  stop_nginx
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# haproxy_capture NAME PROXY-PORT BACKEND-PORT CLIENT-SCENARIO [client args...]
# HAProxy is started before the capture and waited for with `ss` (no probe
# connection), so the capture holds only the client's connection and the
# one HAProxy opens to the backend.
haproxy_capture() {
  local name="$1" pport="$2" bport="$3" scenario="$4"
  shift 4
  local f="$CAPS/$name.pcap" cfg="$WORK/$name.cfg"
  say "$name: websockets client -> haproxy :$pport -> websockets server :$bport"
  sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
    "$HERE/proxies/$name.cfg" >"$cfg"
  haproxy -c -q -f "$cfg"
  : >"$WORK/haproxy.err"
  haproxy -db -f "$cfg" 2>"$WORK/haproxy.err" &
  HAPROXY_PID=$!
  local i
  for i in $(seq 1 50); do
    [ -n "$(ss -Hltn "sport = :$pport")" ] && break
    sleep 0.1
  done
  start_capture tcpdump "$f" "tcp port $pport or tcp port $bport" -i lo
  start_server SRV_PID "$PY" "$PEERS/pypeer.py" server --port "$bport"
  "$PY" "$PEERS/pypeer.py" client "$scenario" --port "$pport" "$@" || true
  stop_haproxy
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

cap_nginx_ok()                { nginx_capture nginx-ok 18070 18071 short; }
cap_nginx_http10()            { nginx_capture nginx-http10 18072 18073 probe; }
cap_nginx_no_upgrade_headers() { nginx_capture nginx-no-upgrade-headers 18074 18075 probe; }
cap_haproxy_ok()              { haproxy_capture haproxy-ok 18076 18077 short; }
# One round trip, then the client stays silent for up to 4 s; HAProxy's
# 2 s tunnel timeout cuts both legs first.
cap_haproxy_timeout()         { haproxy_capture haproxy-timeout 18078 18079 idle --pause 4; }

ALL=(nginx_ok nginx_http10 nginx_no_upgrade_headers haproxy_ok haproxy_timeout)
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for s in "$@"; do "cap_$s"; done
say "done"
