#!/usr/bin/env bash
# Regenerates the captures of WebSocket over HTTP/2 (RFC 8441, extended
# CONNECT) in h2/: NAME.pcap, NAME.pcap.tshark.tsv (tshark's HTTP/2
# dissection, see h2tsv below) and, for the TLS ones, NAME.keys (the client's
# NSS key log).
#
#   ./make-h2-captures.sh              # all scenarios
#   ./make-h2-captures.sh echo         # or only some (the names after cap_)
#
# Installs nothing; says what is missing and stops. Needs root (capturing on
# lo, unshare -n), tcpdump and tshark (Debian `tcpdump`, `tshark`), openssl
# (a throwaway certificate for the TLS scenario, made in the script's
# temporary directory and deleted with it), unshare, ip and ethtool
# (`util-linux`, `iproute2`, `ethtool`: the two MTU-1500 echo scenarios),
# python3 with hypercorn, h2 and wsproto (requirements.txt), for the
# haproxy* scenarios only haproxy and ss (Debian `haproxy`, `iproute2`), for
# the chromium one only chromium (Debian `chromium`) and for the nghttpx one
# only nghttpx and ss (Debian `nghttp2-proxy`, `iproute2`). The
# peers are peers/h2peer.py: hypercorn serving a tiny ASGI echo app, a
# hand-written server on the h2 library, and a client on h2 + wsproto; the
# haproxy* scenarios put HAProxy (configs proxies/haproxy-h2*.cfg) between
# the client and hypercorn, the nghttpx one nghttpx (proxies/nghttpx-h2.conf);
# the chromium one has headless Chromium load a page from hypercorn whose
# script opens the WebSocket. Servers (the proxies too) listen on 127.0.0.1
# only, each scenario on its own port(s) (18701-18714), exit by themselves
# within 30 s and are stopped by PID (Chromium too).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# need [SCENARIO...]: says every missing tool (and where it comes from) at
# once, then stops. haproxy and ss only when a haproxy* scenario is asked
# for (or all are); chromium, nghttpx likewise.
need() {
  local missing="" t m tools=(tcpdump:tcpdump tshark:tshark openssl:openssl unshare:util-linux
    ip:iproute2 ethtool:ethtool "$PY:python3")
  if [ $# -eq 0 ] || [[ " $* " == *" haproxy"* ]]; then tools+=(haproxy:haproxy ss:iproute2); fi
  if [ $# -eq 0 ] || [[ " $* " == *" chromium "* ]]; then tools+=(chromium:chromium); fi
  if [ $# -eq 0 ] || [[ " $* " == *" nghttpx "* ]]; then tools+=(nghttpx:nghttp2-proxy ss:iproute2); fi
  for t in "${tools[@]}"; do
    command -v "${t%%:*}" >/dev/null || missing="$missing ${t%%:*} (Debian ${t##*:})"
  done
  for m in hypercorn h2 wsproto; do
    "$PY" -c "import $m" 2>/dev/null || missing="$missing $m (pip install -r requirements.txt)"
  done
  [ "$(id -u)" = 0 ] || missing="$missing root"
  if [ -n "$missing" ]; then
    echo "make-h2-captures.sh needs:$missing" >&2
    exit 1
  fi
}
need "$@"

# Not captures/: tests/golden.rs and tests/captures.rs enumerate that folder.
CAPS="$HERE/h2"
mkdir -p "$CAPS"

# Throwaway P-256 certificate for wscap.test (the client verifies it).
make_cert() {
  [ -f "$WORK/cert.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 1 -subj /CN=wscap.test -addext subjectAltName=DNS:wscap.test \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
}

# The TSV columns: one row per packet that holds HTTP/2 frames; a packet with
# several frames (or headers, or settings) has its values joined with "|"
# (not tshark's default ",": the date header has a comma). tshark 4.0.17 has
# no http2.settings.value: each setting has a field of its own.
H2_FIELDS=(frame.number tcp.srcport http2.streamid http2.type http2.flags http2.length
  http2.header.name http2.header.value http2.header.repr http2.settings.id
  http2.settings.header_table_size http2.settings.enable_push
  http2.settings.max_concurrent_streams http2.settings.initial_window_size
  http2.settings.max_frame_size http2.settings.max_header_list_size
  http2.settings.extended_connect http2.window_update.window_size_increment
  http2.rst_stream.error http2.goaway.last_stream_id http2.goaway.error)

# h2tsv FILE [tshark options...]: writes FILE.tshark.tsv and checks what
# tshark thinks: HTTP/2 frames present, no malformed packet, no expert
# error; says whether tshark found any WebSocket frame. Cleartext h2c needs
# `-d tcp.port==PORT,http2` (there is no ALPN to tell tshark); over TLS the
# key log and ALPN h2 are enough (a -d there would hide the TLS layer).
h2tsv() {
  local file="$1"
  shift
  local opts=(-n -r "$file" "$@") args=() fld n
  for fld in "${H2_FIELDS[@]}"; do args+=(-e "$fld"); done
  tshark "${opts[@]}" -Y http2 -T fields -E separator=/t -E 'aggregator=|' "${args[@]}" \
    >"$file.tshark.tsv"
  n=$(wc -l <"$file.tshark.tsv")
  say "$(basename "$file"): $n packets with HTTP/2 frames in tshark"
  [ "$n" -gt 0 ] || { echo "ERROR: tshark found no HTTP/2 frame in $file" >&2; return 1; }
  n=$(tshark "${opts[@]}" -Y '_ws.malformed || _ws.expert.severity >= "Error"' 2>/dev/null | wc -l)
  [ "$n" = 0 ] || { echo "ERROR: tshark: $n malformed/error packets in $file" >&2; return 1; }
  n=$(tshark "${opts[@]}" -Y websocket 2>/dev/null | wc -l)
  say "$(basename "$file"): $n packets with WebSocket frames in tshark"
}

# h2_capture NAME PORT SERVER [server options...] -- [client options...]:
# SERVER (server: hypercorn; h2server: the hand-written one) and the client
# on PORT, captured on lo. With TLS=1, the server has the throwaway
# certificate and the client writes NAME.keys.
h2_capture() {
  local name="$1" port="$2" server="$3"
  shift 3
  local srv=() cli=() f="$CAPS/$name.pcap" keys="$CAPS/$name.keys"
  while [ $# -gt 0 ] && [ "$1" != -- ]; do srv+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cli=("$@")
  say "$name"
  if [ "${TLS:-0}" = 1 ]; then
    make_cert
    rm -f "$keys"
    srv+=(--cert "$WORK/cert.pem" --key "$WORK/key.pem")
    cli+=(--tls "$WORK/cert.pem" --keylog "$keys")
  fi
  start_capture tcpdump "$f" "tcp port $port" -i lo
  start_server SRV_PID "$PY" "$PEERS/h2peer.py" "$server" --port "$port" "${srv[@]}"
  "$PY" "$PEERS/h2peer.py" client --port "$port" "${cli[@]}"
  stop_server SRV_PID
  stop_capture
  if [ "${TLS:-0}" = 1 ]; then
    chmod 644 "$keys"
    h2tsv "$f" -o "tls.keylog_file:$keys"
  else
    h2tsv "$f" -d "tcp.port==$port,http2"
  fi
}

# in_mtu1500 FUNC: runs FUNC (through this script) in a private network
# namespace (unshare -n) whose lo has MTU 1500 and segmentation offloads
# off, as make-wss-captures.sh's MTU-1500 case: TCP segments of at most
# 1448 bytes, so that DATA frames span segments and HTTP/2 frame headers
# fall inside them. On the host's lo (MTU 65536, TSO/GSO on) each 16 KB DATA
# frame would be a packet of its own. The host's interfaces are not touched.
in_mtu1500() { unshare -n bash "$HERE/make-h2-captures.sh" __mtu1500 "$1"; }
netns_mtu1500() {
  ip link set lo up
  ip link set lo mtu 1500
  ethtool -K lo tso off gso off gro off >/dev/null
  "$1"
}

# 1. One extended CONNECT on stream 1 to hypercorn (h2c, prior knowledge);
#    texts of 13, 200 and 70,000 B (five DATA frames, flow control, about
#    50 TCP segments), a 16 B binary, ping/pong, close 1000 with END_STREAM;
#    all echoed. MTU 1500 (see in_mtu1500).
cap_echo() { in_mtu1500 echo_mtu1500; }
echo_mtu1500() { h2_capture h2-echo 18701 server -- --scenario echo; }

# 2. Two WebSockets (streams 1 and 3) open at once with interleaved
#    messages, and a GET /plain on stream 5 while both are open (HPACK's
#    dynamic table reused across the three requests and their responses).
cap_two_streams() { h2_capture h2-two-streams 18702 server -- --scenario two-streams; }

# 3. The hand-written h2 server leaves SETTINGS_ENABLE_CONNECT_PROTOCOL out
#    of its SETTINGS; the client sends the extended CONNECT anyway; the
#    server resets the stream (RST_STREAM PROTOCOL_ERROR).
cap_no_enable_connect() {
  h2_capture h2-no-enable-connect 18703 h2server --connect-setting absent -- \
    --scenario no-enable-connect
}

# 3b. The same with the server's SETTINGS carrying ENABLE_CONNECT_PROTOCOL=0
#     explicitly (what the h2 library sends unless told otherwise).
cap_no_enable_connect_zero() {
  h2_capture h2-no-enable-connect-zero 18707 h2server --connect-setting zero -- \
    --scenario no-enable-connect
}

# 4. CONNECT /reject: hypercorn's app refuses it with :status 404 and a body
#    (ASGI websocket.http.response), END_STREAM.
cap_rejected() { h2_capture h2-rejected 18704 server -- --scenario rejected; }

# 5. Unmasked client frames (written by hand) in DATA frames to hypercorn.
cap_unmasked() { h2_capture h2-unmasked 18705 server -- --scenario unmasked; }

# 6. Scenario 1 over TLS 1.3 with ALPN h2 (only) to hypercorn; NAME.keys.
#    MTU 1500 too: TLS records span segments.
cap_tls_echo() { in_mtu1500 tls_echo_mtu1500; }
tls_echo_mtu1500() { TLS=1 h2_capture h2-tls-echo 18706 server -- --scenario echo; }

# h2_haproxy_capture NAME PROXY-PORT BACKEND-PORT -- [client options...]:
# the client -> HAProxy (h2-haproxy[-X] runs proxies/haproxy-h2[-X].cfg
# with the two ports filled in; HTTP/2 frontend on PROXY-PORT) -> hypercorn
# over HTTP/1.1 on BACKEND-PORT, both legs in one capture on the host's lo
# (filter on the two ports).
# As in make-proxy-captures.sh HAProxy runs in the foreground (-db) and is
# waited for with `ss` (no probe connection, so the capture holds only the
# client's connection and the one HAProxy opens to hypercorn); `timeout`
# makes it exit by itself after 25 s, and it is stopped by PID (that of
# `timeout`, which hands the SIGTERM on to HAProxy). The TSV has the front
# leg's HTTP/2 rows (-d PROXY-PORT,http2); -d BACKEND-PORT,http makes tshark
# dissect the back leg as HTTP/1.1 and so its WebSocket frames, which
# h2tsv's `-Y websocket` count then reports.
HAPROXY_PID=""
stop_haproxy() {
  if [ -n "$HAPROXY_PID" ]; then
    kill "$HAPROXY_PID" 2>/dev/null || true
    wait "$HAPROXY_PID" 2>/dev/null || true
    HAPROXY_PID=""
    sed 's/^/   [haproxy] /' "$WORK/haproxy.err" >&2 || true
  fi
}
CHROMIUM_PID=""
NGHTTPX_PID=""
stop_pid() {  # stop_pid VAR LABEL: stops the process whose PID is in VAR
  local var="$1" pid="${!1}"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    printf -v "$var" '%s' ""
  fi
}
stop_nghttpx() {
  if [ -n "$NGHTTPX_PID" ]; then
    stop_pid NGHTTPX_PID
    sed 's/^/   [nghttpx] /' "$WORK/nghttpx.err" >&2 || true
  fi
}
trap 'stop_haproxy; stop_pid CHROMIUM_PID; stop_nghttpx; cleanup' EXIT

h2_haproxy_capture() {
  local name="$1" pport="$2" bport="$3"
  shift 3
  [ "${1:-}" = -- ] && shift
  local f="$CAPS/$name.pcap" cfg="$WORK/$name.cfg" i
  say "$name: h2 client -> haproxy :$pport (h2c) -> hypercorn :$bport (HTTP/1.1)"
  sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
    "$HERE/proxies/haproxy-h2${name#h2-haproxy}.cfg" >"$cfg"
  haproxy -c -q -f "$cfg"
  : >"$WORK/haproxy.err"
  timeout 25 haproxy -db -f "$cfg" 2>"$WORK/haproxy.err" &
  HAPROXY_PID=$!
  for i in $(seq 1 50); do
    [ -n "$(ss -Hltn "sport = :$pport")" ] && break
    sleep 0.1
  done
  start_capture tcpdump "$f" "tcp port $pport or tcp port $bport" -i lo
  start_server SRV_PID "$PY" "$PEERS/h2peer.py" server --port "$bport"
  "$PY" "$PEERS/h2peer.py" client --port "$pport" "$@"
  stop_haproxy
  stop_server SRV_PID
  stop_capture
  h2tsv "$f" -d "tcp.port==$pport,http2" -d "tcp.port==$bport,http"
}

# 7. Through HAProxy (proxies/haproxy-h2.cfg): h2c with prior knowledge to
#    HAProxy's HTTP/2 frontend (18708), which announces
#    ENABLE_CONNECT_PROTOCOL=1; the extended CONNECT /echo becomes an
#    HTTP/1.1 GET + Upgrade: websocket to hypercorn (18709), 101 there, 200
#    on stream 1. texts of 13, 200 and 20,000 B, a 16 B binary, ping/pong,
#    close 1000 with END_STREAM; all echoed. Both legs.
cap_haproxy() { h2_haproxy_capture h2-haproxy 18708 18709 -- --scenario proxy-echo; }

# 8. The same HAProxy with h2-workaround-bogus-websocket-clients
#    (proxies/haproxy-h2-no-rfc8441.cfg): no ENABLE_CONNECT_PROTOCOL in its
#    SETTINGS; the client sends the extended CONNECT anyway (scenario 3's
#    client). HAProxy 2.6 accepts it all the same and forwards it: 200, one
#    echoed text, close 1000. Both legs (18710, 18711).
cap_haproxy_no_rfc8441() {
  h2_haproxy_capture h2-haproxy-no-rfc8441 18710 18711 -- --scenario no-enable-connect
}

# 9. Headless Chromium (a real browser) over TLS (ALPN h2) to hypercorn
#    (18712): it loads /ws-page.html (peers/h2-chromium.html) on stream 1;
#    the page's script opens `new WebSocket("wss://wscap.test:18712/echo")`,
#    which Chromium sends as an RFC 8441 extended CONNECT on the same HTTP/2
#    connection (hypercorn announces ENABLE_CONNECT_PROTOCOL=1), with
#    permessage-deflate offered and accepted: three texts and a 16 B binary,
#    each echo awaited, then close 1000 "done". The page also holds an image
#    (/wait-ws) that hypercorn answers only after the WebSocket has closed,
#    so that --dump-dom (after the load event) shows the whole exchange;
#    Chromium asks for /favicon.ico as well. wscap.test is mapped to
#    127.0.0.1 with --host-resolver-rules (SNI and :authority wscap.test);
#    the throwaway certificate is accepted with --ignore-certificate-errors.
#    NAME.keys is Chromium's key log (SSLKEYLOGFILE). Chromium runs as root
#    (--no-sandbox) in a fresh profile under `timeout 25`, in the background,
#    waited for and stopped by PID.
cap_chromium() {
  local name=h2-chromium port=18712 f="$CAPS/h2-chromium.pcap" keys="$CAPS/h2-chromium.keys"
  local prof
  say "$name: headless chromium -> hypercorn :$port (TLS, ALPN h2)"
  make_cert
  rm -f "$keys"
  prof="$(mktemp -d "$WORK/chromium-profile.XXXXXX")"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  start_server SRV_PID "$PY" "$PEERS/h2peer.py" server --port "$port" \
    --cert "$WORK/cert.pem" --key "$WORK/key.pem"
  SSLKEYLOGFILE="$keys" timeout 25 chromium --headless --no-sandbox --disable-gpu \
    --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$prof" \
    --ignore-certificate-errors --host-resolver-rules="MAP wscap.test 127.0.0.1" \
    --dump-dom "https://wscap.test:$port/ws-page.html" \
    >"$WORK/chromium.dom" 2>"$WORK/chromium.err" &
  CHROMIUM_PID=$!
  wait "$CHROMIUM_PID" || echo "chromium exited with status $?" >&2
  CHROMIUM_PID=""
  stop_server SRV_PID
  stop_capture
  # What the page's script saw (its <pre id="log">).
  sed -n '/<pre id="log">/,/<\/pre>/p' "$WORK/chromium.dom" | sed 's/^/   [page] /' >&2
  grep -q '^close 1000 "done" clean true' "$WORK/chromium.dom" ||
    { echo "ERROR: the page did not see its WebSocket close cleanly" >&2; return 1; }
  chmod 644 "$keys"
  h2tsv "$f" -o "tls.keylog_file:$keys"
  # Check that the WebSocket went over HTTP/2 (RFC 8441), not HTTP/1.1.
  [ "$(tshark -n -r "$f" -o "tls.keylog_file:$keys" \
    -Y 'http2.header.value == "websocket" && http2.header.name == ":protocol"' | wc -l)" -gt 0 ] ||
    { echo "ERROR: no extended CONNECT (:protocol websocket) in $f" >&2; return 1; }
}

# 10. Through nghttpx (proxies/nghttpx-h2.conf): the client (scenario
#     proxy-echo, as `haproxy`) over h2c with prior knowledge to nghttpx's
#     frontend (18713), which announces ENABLE_CONNECT_PROTOCOL=1; nghttpx
#     turns the extended CONNECT into an HTTP/1.1 GET + Upgrade to hypercorn
#     (18714). Both legs. As HAProxy, nghttpx runs in the foreground under
#     `timeout 25`, is waited for with `ss` and stopped by PID.
cap_nghttpx() {
  local name=h2-nghttpx pport=18713 bport=18714 f="$CAPS/h2-nghttpx.pcap"
  local cfg="$WORK/nghttpx.conf" i
  say "$name: h2 client -> nghttpx :$pport (h2c) -> hypercorn :$bport (HTTP/1.1)"
  sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
    "$HERE/proxies/nghttpx-h2.conf" >"$cfg"
  : >"$WORK/nghttpx.err"
  timeout 25 nghttpx --conf="$cfg" 2>"$WORK/nghttpx.err" &
  NGHTTPX_PID=$!
  for i in $(seq 1 50); do
    [ -n "$(ss -Hltn "sport = :$pport")" ] && break
    sleep 0.1
  done
  start_capture tcpdump "$f" "tcp port $pport or tcp port $bport" -i lo
  start_server SRV_PID "$PY" "$PEERS/h2peer.py" server --port "$bport"
  "$PY" "$PEERS/h2peer.py" client --port "$pport" --scenario proxy-echo
  stop_nghttpx
  stop_server SRV_PID
  stop_capture
  h2tsv "$f" -d "tcp.port==$pport,http2" -d "tcp.port==$bport,http"
}

ALL=(echo two_streams no_enable_connect no_enable_connect_zero rejected unmasked tls_echo
  haproxy haproxy_no_rfc8441 chromium nghttpx)
if [ "${1:-}" = __mtu1500 ]; then netns_mtu1500 "$2"; exit 0; fi
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for s in "$@"; do "cap_$s"; done
say "done"
