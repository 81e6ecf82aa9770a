#!/usr/bin/env bash
# Regenerates the capture pairs for `wscap diff BEFORE AFTER` in captures/:
# diff-<topic>-before.pcap and diff-<topic>-after.pcap. In every pair the same
# client program (peers/diffpeer.py client SESSION) runs the same scripted
# session on both sides (same connections one after the other, same paths,
# same messages) against the same ports; only the proxy or server setting
# named by the topic changes. Plus diff-rotated.pcap and its three rotated
# parts. Ports 18150-18199.
#
#   ./make-diff-captures.sh                 # everything
#   ./make-diff-captures.sh nginx_fix       # only some (function names below, without cap_)
#
# Needs what make-proxy-captures.sh needs (tcpdump, tshark, nginx, haproxy,
# websockets) and editcap (Debian wireshark-common) for diff-rotated.
# Servers and proxies listen on 127.0.0.1 only and are stopped by PID; the
# server exits by itself after 30 s, the client session after 60 s.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIFF=("$PY" "$PEERS/diffpeer.py")

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

# start_proxy TEMPLATE PROXY-PORT BACKEND-PORT: nginx (proxies/nginx-*.conf)
# or HAProxy (proxies/haproxy-*.cfg) in the foreground, started before the
# capture and waited for with `ss` (no probe connection is captured).
start_proxy() {
  local tpl="$1" pport="$2" bport="$3"
  local prefix="$WORK/proxy-$pport-$tpl"
  mkdir -p "$prefix/tmp" "$prefix/logs"
  : >"$WORK/proxy.err"
  case "$tpl" in
    nginx-*)
      sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
        "$HERE/proxies/$tpl" >"$prefix/nginx.conf"
      nginx -t -q -c "$prefix/nginx.conf" -p "$prefix/" -g 'daemon off;'
      nginx -c "$prefix/nginx.conf" -p "$prefix/" -g 'daemon off;' 2>"$WORK/proxy.err" &
      ;;
    haproxy-*)
      sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
        "$HERE/proxies/$tpl" >"$prefix/haproxy.cfg"
      haproxy -c -q -f "$prefix/haproxy.cfg"
      haproxy -db -f "$prefix/haproxy.cfg" 2>"$WORK/proxy.err" &
      ;;
    *) echo "unknown proxy template $tpl" >&2; return 1 ;;
  esac
  PROXY_PID=$!
  wait_listen "$pport"
}

# side NAME PROXY PROXY-PORT BACKEND-PORT "SERVER-OPTIONS" SESSION [client args...]
#   One capture: diffpeer.py server on BACKEND-PORT (with SERVER-OPTIONS),
#   PROXY (a template in proxies/, or "none": then the client connects to
#   BACKEND-PORT directly and PROXY-PORT is not used), the client SESSION.
side() {
  local name="$1" proxy="$2" pport="$3" bport="$4" sopts="$5" session="$6"
  shift 6
  local f="$CAPS/$name.pcap" filter="tcp port $bport" cport="$bport"
  if [ "$proxy" != none ]; then
    say "$name: diffpeer client $session -> $proxy :$pport -> diffpeer server :$bport $sopts"
    start_proxy "$proxy" "$pport" "$bport"
    filter="tcp port $pport or tcp port $bport"
    cport="$pport"
  else
    say "$name: diffpeer client $session -> diffpeer server :$bport $sopts"
  fi
  start_capture tcpdump "$f" "$filter" -i lo
  # shellcheck disable=SC2086 # SERVER-OPTIONS is a list of words
  start_server SRV_PID "${DIFF[@]}" server --port "$bport" $sopts
  "${DIFF[@]}" client "$session" --port "$cport" "$@" || true
  stop_proxy
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 1. nginx configured wrong, then right: 2 connections (/chat, /feed), each
#    3 round trips and close 1000. Before: proxies/nginx-http10.conf (no
#    proxy_http_version: HTTP/1.0 to the backend, which answers 505). After:
#    proxies/nginx-ok.conf.
cap_nginx_fix() {
  side diff-nginx-fix-before nginx-http10.conf 18150 18151 "" chat
  side diff-nginx-fix-after nginx-ok.conf 18150 18151 "" chat
}

# 2. nginx, then HAProxy, both right (proxies/nginx-ok.conf,
#    proxies/haproxy-ok.cfg); the same 2-connection echo session.
cap_proxy_switch() {
  side diff-proxy-switch-before nginx-ok.conf 18152 18153 "" chat
  side diff-proxy-switch-after haproxy-ok.cfg 18152 18153 "" chat
}

# 3. Direct to the server, permessage-deflate on, then off. The client
#    offers permessage-deflate on both sides (websockets' default offer);
#    one connection (/news), 4 compressible texts of 2000-5000 B echoed.
cap_deflate() {
  side diff-deflate-before none 0 18154 "--compression deflate" deflate --paths /news
  side diff-deflate-after none 0 18154 "--compression none" deflate --paths /news
}

# 4. Direct to the server, max_size 1 MiB, then 64 KiB (websockets'
#    max_size of the server). 2 connections (/chat, /feed), each sends
#    binary 10 KiB, 100 KiB, 200 KiB; the server answers messages over
#    4096 B with a short text "got N bytes" instead of echoing them.
cap_size_limit() {
  side diff-size-limit-before none 0 18155 "--max-size 1048576 --ack-over 4096" sizes
  side diff-size-limit-after none 0 18155 "--max-size 65536 --ack-over 4096" sizes
}

# 5. HAProxy with timeout tunnel 10s, then 2s (proxies/haproxy-tunnel-*.cfg).
#    2 connections (/chat, /feed), each: one text echoed, 3 s of silence,
#    another text echoed, close 1000.
cap_idle_timeout() {
  side diff-idle-timeout-before haproxy-tunnel-10s.cfg 18156 18157 "" idle --pause 3
  side diff-idle-timeout-after haproxy-tunnel-2s.cfg 18156 18157 "" idle --pause 3
}

# 6. One capture (2 connections one after the other, direct, the chat
#    session) and the same packets split into 3 files of at most N packets
#    (N = ceil(packets / 3)) with `editcap -c N`, as a size-rotated
#    `tcpdump -C` run would leave them: each part a complete pcap file with
#    its own header, the parts in order holding exactly the packets of the
#    whole, connections running across the part boundaries.
cap_rotated() {
  local f="$CAPS/diff-rotated.pcap"
  side diff-rotated none 0 18158 "" chat
  local total per i
  total=$(capinfos -T -r -c "$f" | cut -f2)
  per=$(( (total + 2) / 3 ))
  say "diff-rotated: $total packets, editcap -c $per"
  rm -rf "$WORK/rot"
  mkdir -p "$WORK/rot"
  editcap -F pcap -c "$per" "$f" "$WORK/rot/part.pcap"
  i=0
  for p in $(ls "$WORK/rot/" | sort); do
    cp "$WORK/rot/$p" "$CAPS/diff-rotated-part$i.pcap"
    chmod 644 "$CAPS/diff-rotated-part$i.pcap"
    tsv "$CAPS/diff-rotated-part$i.pcap"
    i=$((i + 1))
  done
  if [ "$i" != 3 ]; then
    echo "ERROR: editcap made $i parts, not 3" >&2
    return 1
  fi
}

ALL=(nginx_fix proxy_switch deflate size_limit idle_timeout rotated)
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for s in "$@"; do "cap_$s"; done
say "done"
