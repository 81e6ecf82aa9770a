#!/usr/bin/env bash
# Regenerates the issue-9 captures in captures/: two more implementations
# (aiohttp, tokio-tungstenite), Apache httpd as a reverse proxy, headers-only
# captures (small snaplen), HTTP keep-alive before the upgrade, and a few more
# broken or unusual endings. Ports 18100-18146.
#
#   ./make-issue9-captures.sh                  # everything
#   ./make-issue9-captures.sh aiohttp_echo     # only some (function names below, without cap_)
#
# Needs, besides what make-captures.sh needs: aiohttp (requirements.txt),
# cargo (builds peers/tungstenite/ once, with --locked, into its own target/),
# Debian apache2 (modules mod_proxy, mod_proxy_http), nginx, haproxy, and
# `tc` with the tbf qdisc (iproute2) for bad-unmasked_in_flight.
# Servers listen on 127.0.0.1 only; each scenario has its own port(s) and a
# capture filter on them; everything started is stopped by PID.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RAW=("$PY" "$PEERS/rawpeer.py")
AIO=("$PY" "$PEERS/aiopeer.py")
TUNG="$PEERS/tungstenite/target/release/wscap-tungstenite-peer"
MODDIR="${APACHE_MODDIR:-/usr/lib/apache2/modules}"

PROXY_PID=""
stop_proxy() {
  if [ -n "$PROXY_PID" ]; then
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
    sed 's/^/   [proxy] /' "$WORK/proxy.err" >&2 || true
  fi
}
trap 'stop_proxy; cleanup' EXIT

TUNG_BUILT=""
build_tungstenite() { # once per run (cargo does nothing if it is up to date)
  if [ -z "$TUNG_BUILT" ]; then
    say "building peers/tungstenite (cargo build --release --locked)"
    cargo build -q --release --locked --manifest-path "$PEERS/tungstenite/Cargo.toml"
    TUNG_BUILT=1
  fi
}

server_kind() { # server_kind KIND PORT: start a real echo server
  local kind="$1" port="$2"
  case "$kind" in
    py) start_server SRV_PID "$PY" "$PEERS/pypeer.py" server --port "$port" ;;
    aio) start_server SRV_PID "${AIO[@]}" server --port "$port" ;;
    tung) build_tungstenite; start_server SRV_PID "$TUNG" server --port "$port" ;;
    *) echo "unknown server kind $kind" >&2; return 1 ;;
  esac
}

# simple NAME PORT SERVER-KIND CLIENT-CMD...: one capture, one server, one client
simple() {
  local name="$1" port="$2" kind="$3"
  shift 3
  local f="$CAPS/$name.pcap"
  say "$name: $* -> $kind server, port $port"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  server_kind "$kind" "$port"
  "$@" --port "$port" || true
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# wait_listen PORT: wait (without connecting) until something listens on PORT
wait_listen() {
  local i
  for i in $(seq 1 50); do
    [ -n "$(ss -Hltn "sport = :$1")" ] && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# --- 1. two more implementations: aiohttp 3.14 and tokio-tungstenite 0.28
cap_aiohttp_echo()        { simple aiohttp-echo 18100 aio "${AIO[@]}" client echo; }
cap_aiohttp_node()        { simple aiohttp-node 18101 aio "$NODE" "$PEERS/nodepeer.js" client echo; }
cap_tungstenite_echo()    { build_tungstenite; simple tungstenite-echo 18102 tung "$TUNG" client echo; }
cap_tungstenite_py()      { build_tungstenite; simple tungstenite-py 18103 py "$TUNG" client short; }
cap_aiohttp_tungstenite() { build_tungstenite; simple aiohttp-tungstenite 18104 tung "${AIO[@]}" client short; }

# --- 2. Apache httpd 2.4 reverse proxy (both legs captured)
# apache_capture NAME PROXY-PORT BACKEND-PORT CLIENT-SCENARIO [client args...]
# httpd runs in the foreground (-DFOREGROUND) from a template in proxies/,
# started before the capture and waited for with `ss` (no probe connection).
apache_capture() {
  local name="$1" pport="$2" bport="$3" scenario="$4"
  shift 4
  local f="$CAPS/$name.pcap" prefix="$WORK/$name"
  say "$name: websockets client -> apache :$pport -> websockets server :$bport"
  mkdir -p "$prefix"
  chmod 755 "$prefix"
  sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
    -e "s|@PREFIX@|$prefix|g" -e "s|@MODDIR@|$MODDIR|g" \
    "$HERE/proxies/$name.conf" >"$prefix/httpd.conf"
  apache2 -t -f "$prefix/httpd.conf" 2>&1 | grep -v 'Syntax OK' >&2 || true
  : >"$WORK/proxy.err"
  apache2 -f "$prefix/httpd.conf" -DFOREGROUND 2>"$WORK/proxy.err" &
  PROXY_PID=$!
  wait_listen "$pport"
  start_capture tcpdump "$f" "tcp port $pport or tcp port $bport" -i lo
  start_server SRV_PID "$PY" "$PEERS/pypeer.py" server --port "$bport"
  "$PY" "$PEERS/pypeer.py" client "$scenario" --port "$pport" "$@" || true
  stop_proxy
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}
cap_apache_ok()           { apache_capture apache-ok 18110 18111 short; }
cap_apache_no_wstunnel()  { apache_capture apache-no-wstunnel 18112 18113 probe; }
# One round trip, then the client stays silent for up to 3 s; Apache's
# ProxyTimeout 2 cuts the tunnel first.
cap_apache_timeout()      { apache_capture apache-timeout 18114 18115 idle --pause 3; }

# --- 3. headers-only captures: small snaplen
# Same websockets session (5, 200, 5000, 70000 B each way, close 1000).
cap_snap96() { snapcap snap96-echo 18120 96; }
cap_snap64() { snapcap snap64-echo 18121 64; }
snapcap() {
  local name="$1" port="$2" snap="$3" f="$CAPS/$1.pcap"
  say "$name: websockets client -> websockets server, port $port, tcpdump -s $snap"
  start_capture tcpdump "$f" "tcp port $port" -i lo -s "$snap"
  server_kind py "$port"
  "$PY" "$PEERS/pypeer.py" client sizes --port "$port"
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}
# The same session through nginx (proxies/nginx-ok.conf), tcpdump -s 200.
cap_snap200_nginx() {
  local name=snap200-nginx pport=18122 bport=18123
  local f="$CAPS/$name.pcap" prefix="$WORK/$name"
  say "$name: websockets client -> nginx :$pport -> websockets server :$bport, tcpdump -s 200"
  mkdir -p "$prefix/tmp" "$prefix/logs"
  sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
    "$HERE/proxies/nginx-ok.conf" >"$prefix/nginx.conf"
  nginx -t -q -c "$prefix/nginx.conf" -p "$prefix/" -g 'daemon off;'
  : >"$WORK/proxy.err"
  nginx -c "$prefix/nginx.conf" -p "$prefix/" -g 'daemon off;' 2>"$WORK/proxy.err" &
  PROXY_PID=$!
  wait_listen "$pport"
  start_capture tcpdump "$f" "tcp port $pport or tcp port $bport" -i lo -s 200
  server_kind py "$bport"
  "$PY" "$PEERS/pypeer.py" client sizes --port "$pport"
  stop_proxy
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# --- 4. HTTP keep-alive before the upgrade (aiohttp client and server):
# GET /health (Content-Length), GET /other (chunked), then the upgrade, all
# on one TCP connection.
cap_keepalive_upgrade() { simple keepalive-upgrade 18130 aio "${AIO[@]}" client keepalive; }
# The same through HAProxy (proxies/haproxy-ok.cfg), which keeps its backend
# connection for the client's next requests.
cap_keepalive_proxy() {
  local name=keepalive-proxy pport=18131 bport=18132
  local f="$CAPS/$name.pcap" cfg="$WORK/$name.cfg"
  say "$name: aiohttp client -> haproxy :$pport -> aiohttp server :$bport"
  sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
    "$HERE/proxies/haproxy-ok.cfg" >"$cfg"
  haproxy -c -q -f "$cfg"
  : >"$WORK/proxy.err"
  haproxy -db -f "$cfg" 2>"$WORK/proxy.err" &
  PROXY_PID=$!
  wait_listen "$pport"
  start_capture tcpdump "$f" "tcp port $pport or tcp port $bport" -i lo
  server_kind aio "$bport"
  "${AIO[@]}" client keepalive --port "$pport" || true
  stop_proxy
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# --- 5-9. broken or unusual endings
# 5. raw client: ping with RSV1+RSV2+RSV3 -> aiohttp server (close 1002)
cap_rsv_all_on_ping() { simple bad-rsv_all_on_ping 18140 aio "${RAW[@]}" client rsv_all_on_ping; }
# 7. raw client: text, then a close frame with an empty payload -> websockets
cap_empty_close()     { simple ok-empty-close 18142 py "${RAW[@]}" client empty_close; }
# 8. the server application fails (1011) or rejects a token (1008): websockets
cap_server_1011()     { simple server-1011 18143 py "$PY" "$PEERS/pypeer.py" client fail; }
cap_server_1008()     { simple server-1008 18144 py "$PY" "$PEERS/pypeer.py" client policy; }
# The same application failure in aiohttp (path /fail of aiopeer.py): aiohttp
# sends no close frame, it only closes the TCP connection.
cap_server_aiohttp_fail() { simple server-aiohttp-fail 18146 aio "$PY" "$PEERS/pypeer.py" client fail; }
# 9. raw server: 101, one text frame, then FIN at once (no close frame)
cap_cut_after_frame() {
  local port=18145 f="$CAPS/cut-after-frame.pcap"
  say "cut-after-frame: websockets client -> rawpeer server, port $port"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  start_server SRV_PID "${RAW[@]}" server cut_after_frame --port "$port"
  "$PY" "$PEERS/pypeer.py" client probe --port "$port" || true
  wait "$SRV_PID" || true
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 6. An unmasked client frame while the server streams frames the other way.
# websockets server, path /stream: 40 text frames of 100 B, one every 2 ms.
# The raw client sends one unmasked text frame after receiving 3 of them.
# On the plain lo every packet is delivered at once, so the server's kernel
# ACKs the client's frame (on its next data segment) before any server frame
# can cross it. This runs in a private network namespace (unshare -n) whose
# lo has a token-bucket qdisc (tc tbf, 200 kbit/s, offloads off): packets
# queue for a few ms, like on a slow link, so server frames sent before the
# server received the unmasked frame are captured after it with an ACK that
# does not cover it yet. The host's lo is untouched.
cap_unmasked_in_flight() {
  unshare -n bash "$HERE/make-issue9-captures.sh" __netns_unmasked_in_flight
}
netns_unmasked_in_flight() {
  local port=18141 f="$CAPS/bad-unmasked_in_flight.pcap"
  say "bad-unmasked_in_flight: rawpeer client -> websockets server /stream, port $port (private netns, lo shaped to 300 kbit/s by htb)"
  ip link set lo up
  ethtool -K lo tso off gso off gro off >/dev/null
  tc qdisc add dev lo root handle 1: htb default 10
  tc class add dev lo parent 1: classid 1:10 htb rate 300kbit ceil 300kbit burst 200b cburst 200b
  start_capture tcpdump "$f" "tcp port $port" -i lo
  server_kind py "$port"
  "${RAW[@]}" client unmasked_in_flight --port "$port" || true
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

ALL=(aiohttp_echo aiohttp_node tungstenite_echo tungstenite_py aiohttp_tungstenite
     apache_ok apache_no_wstunnel apache_timeout
     snap96 snap64 snap200_nginx
     keepalive_upgrade keepalive_proxy
     rsv_all_on_ping unmasked_in_flight empty_close server_1011 server_1008 server_aiohttp_fail
     cut_after_frame)
if [ "${1:-}" = __netns_unmasked_in_flight ]; then netns_unmasked_in_flight; exit 0; fi
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for s in "$@"; do "cap_$s"; done
say "done"
