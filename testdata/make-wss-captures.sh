#!/usr/bin/env bash
# Regenerates the issue-13 captures of WebSocket inside TLS (wss://) in wss/:
# each NAME.pcap (or .pcapng) has beside it NAME.keys, the NSS key log
# (SSLKEYLOGFILE format) its client wrote, and NAME.pcap.tshark.tsv, tshark's
# dissection of the decrypted WebSocket frames with that key log.
#
#   ./make-wss-captures.sh                 # all scenarios
#   ./make-wss-captures.sh py_tls13_aes128 # or only some
#
# Installs nothing; says what is missing and stops. Needs root (capturing on
# lo and any, unshare -n), tcpdump, tshark and editcap (Debian `tcpdump`,
# `tshark`, `wireshark-common`), openssl (throwaway certificates, made in the
# script's temporary directory and deleted with it, and the KeyUpdate
# client), python3 with websockets (requirements.txt), node with ws
# (`cd peers && npm ci`), nginx (the proxy scenario), and unshare, ip and
# ethtool (`util-linux`, `iproute2`, `ethtool`: the MTU-1500 scenario).
# Servers listen on 127.0.0.1 only, each scenario on its own port
# (18601-18640), exit by themselves after 30 s and are stopped by PID.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# need: says every missing tool (and its Debian package) at once, then stops.
need() {
  local missing="" t
  for t in tcpdump:tcpdump tshark:tshark editcap:wireshark-common openssl:openssl \
    nginx:nginx unshare:util-linux ip:iproute2 ethtool:ethtool "$NODE:nodejs" "$PY:python3"; do
    command -v "${t%%:*}" >/dev/null || missing="$missing ${t%%:*} (Debian ${t##*:})"
  done
  "$PY" -c 'import websockets' 2>/dev/null || missing="$missing websockets (pip install -r requirements.txt)"
  [ -d "$PEERS/node_modules/ws" ] || missing="$missing ws (cd peers && npm ci)"
  [ "$(id -u)" = 0 ] || missing="$missing root"
  if [ -n "$missing" ]; then
    echo "make-wss-captures.sh needs:$missing" >&2
    exit 1
  fi
}
need

# Not captures/: tests/golden.rs and tests/captures.rs enumerate that folder.
CAPS="$HERE/wss"
mkdir -p "$CAPS"

NGINX_PID=""
stop_nginx() {
  if [ -n "$NGINX_PID" ]; then
    kill "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
    sed 's/^/   [nginx] /' "$WORK/nginx.err" >&2 || true
  fi
}
trap 'stop_nginx; cleanup' EXIT

# TLS 1.3 cipher suites (and groups) are fixed with an OpenSSL configuration
# (Python's ssl has no set_ciphersuites before 3.13): tls_conf NAME LINE...
# writes one whose system_default section holds the LINEs and prints its
# path, for OPENSSL_CONF.
tls_conf() {
  local f="$WORK/openssl-$1.cnf"
  shift
  {
    printf '%s\n' 'openssl_conf = openssl_init' '[openssl_init]' 'ssl_conf = ssl_sect' \
      '[ssl_sect]' 'system_default = system_default_sect' '[system_default_sect]'
    printf '%s\n' "$@"
  } >"$f"
  echo "$f"
}

# An EC key keeps the certificate, and so the captures, small; ECDSA also
# selects the ECDHE-ECDSA suites under TLS 1.2.
make_cert() {
  [ -f "$WORK/cert.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 1 -subj /CN=wscap.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
}

# wsstsv FILE KEYS: the tshark dissection with the key log, as lib.sh's tsv
# makes it for plaintext; fails when tshark decrypts nothing.
wsstsv() {
  local file="$1" keys="$2"
  tsv "$file" -o "tls.keylog_file:$keys"
  if [ ! -s "$file.tshark.tsv" ]; then
    echo "ERROR: tshark decrypted no WebSocket frame in $file" >&2
    return 1
  fi
}

# py_capture NAME PORT [peer options...]: one Python server and client pair
# on PORT, captured on lo, with the client's key log. SRV_CONF and CLI_CONF
# (OpenSSL configurations, see tls_conf) apply to the server and the client.
py_capture() {
  local name="$1" port="$2"
  shift 2
  local f="$CAPS/$name.pcap" keys="$CAPS/$name.keys"
  say "$name"
  make_cert
  rm -f "$keys"
  start_capture tcpdump "$f" "tcp port $port" ${IFACE_ARGS:--i lo}
  OPENSSL_CONF="${SRV_CONF:-/dev/null}" start_server SRV_PID "$PY" "$PEERS/wsspeer.py" \
    server "$WORK/cert.pem" "$WORK/key.pem" --port "$port" "$@"
  OPENSSL_CONF="${CLI_CONF:-/dev/null}" "$PY" "$PEERS/wsspeer.py" client --port "$port" \
    --keylog "$keys" "$@"
  stop_server SRV_PID
  stop_capture
  chmod 644 "$keys"
  wsstsv "$f" "$keys"
}

# py_tls13 NAME PORT SUITE [peer options...]: py_capture with TLS 1.3 and
# only SUITE on both sides.
py_tls13() {
  local name="$1" port="$2" suite="$3"
  shift 3
  local conf
  conf="$(tls_conf "$suite" "Ciphersuites = $suite")"
  SRV_CONF="$conf" CLI_CONF="$conf" py_capture "$name" "$port" "$@"
}

# 1. TLS 1.3, TLS_AES_128_GCM_SHA256; one 17000-byte message spans two records.
cap_py_tls13_aes128() {
  py_tls13 wss-py-tls13-aes128 18601 TLS_AES_128_GCM_SHA256 --big 17000
}

# 7. Capture 1 with its key log embedded (a pcapng Decryption Secrets Block):
#    no NAME.keys beside it; tshark decrypts it without -o.
cap_py_tls13_aes128_dsb() {
  local src="$CAPS/wss-py-tls13-aes128" f="$CAPS/wss-py-tls13-aes128-dsb.pcapng"
  say "$(basename "$f")"
  editcap --inject-secrets "tls,$src.keys" "$src.pcap" "$f"
  chmod 644 "$f"
  tsv "$f"
  [ -s "$f.tshark.tsv" ] || { echo "ERROR: tshark decrypted nothing in $f" >&2; return 1; }
}

# 10. Capture 1 with one packet deleted: the one carrying the client's
#     200-byte text frame (one whole TLS record). Found by what tshark
#     decrypts, not by number, so a regenerated capture 1 still works.
cap_py_tls13_aes128_lost() {
  local src="$CAPS/wss-py-tls13-aes128" f="$CAPS/wss-py-tls13-aes128-lost.pcap" n
  say "$(basename "$f")"
  n=$(tshark -n -r "$src.pcap" -o "tls.keylog_file:$src.keys" -T fields -e frame.number \
    -Y 'websocket.opcode == 1 && websocket.mask == 1 && websocket.payload_length_ext_16 == 200' 2>/dev/null)
  [ -n "$n" ] || { echo "ERROR: no 200-byte client text in $src.pcap" >&2; return 1; }
  say "deleting packet $n of $(basename "$src.pcap")"
  editcap -F pcap "$src.pcap" "$f" "$n"
  cp "$src.keys" "$CAPS/wss-py-tls13-aes128-lost.keys"
  chmod 644 "$f" "$CAPS/wss-py-tls13-aes128-lost.keys"
  wsstsv "$f" "$CAPS/wss-py-tls13-aes128-lost.keys"
}

# 2. The two other TLS 1.3 suites.
cap_py_tls13_aes256() {
  py_tls13 wss-py-tls13-aes256 18602 TLS_AES_256_GCM_SHA384
}
cap_py_tls13_chacha20() {
  py_tls13 wss-py-tls13-chacha20 18603 TLS_CHACHA20_POLY1305_SHA256
}

# 3. TLS 1.2 (CLIENT_RANDOM key log lines): ECDHE-ECDSA with AES-128-GCM,
#    ECDHE-RSA with ChaCha20-Poly1305 (an RSA certificate), and a CBC suite.
cap_py_tls12_aes128gcm() {
  py_capture wss-py-tls12-ecdsa-aes128gcm 18604 --tls12 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
}
cap_py_tls12_chacha20() {
  local name=wss-py-tls12-rsa-chacha20
  make_cert
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=wscap.test \
    -keyout "$WORK/rsa-key.pem" -out "$WORK/rsa-cert.pem" 2>/dev/null
  # py_capture uses cert.pem/key.pem: swap the RSA pair in for this one.
  mv "$WORK/cert.pem" "$WORK/ec-cert.pem"; mv "$WORK/key.pem" "$WORK/ec-key.pem"
  cp "$WORK/rsa-cert.pem" "$WORK/cert.pem"; cp "$WORK/rsa-key.pem" "$WORK/key.pem"
  py_capture $name 18605 --tls12 --ciphers ECDHE-RSA-CHACHA20-POLY1305
  mv "$WORK/ec-cert.pem" "$WORK/cert.pem"; mv "$WORK/ec-key.pem" "$WORK/key.pem"
}
cap_py_tls12_aes128cbc() {
  py_capture wss-py-tls12-ecdsa-aes128cbc 18606 --tls12 --ciphers ECDHE-ECDSA-AES128-SHA256
}

# 5. permessage-deflate inside TLS 1.3.
cap_py_tls13_deflate() {
  py_tls13 wss-py-tls13-deflate 18607 TLS_AES_128_GCM_SHA256 --deflate
}

# 8. Two connections, one after the other; the key log misses the second.
cap_py_tls13_missing_key() {
  py_tls13 wss-py-tls13-missing-key 18608 TLS_AES_128_GCM_SHA256 --conns 2 --unlogged-second
}

# 9. Two connections; the second resumes the first's session (TLS 1.3 PSK
#    from a NewSessionTicket, psk_dhe_ke).
cap_py_tls13_resumed() {
  py_tls13 wss-py-tls13-resumed 18609 TLS_AES_128_GCM_SHA256 --conns 2 --resume
}

# TLS 1.3 KeyUpdate: openssl s_client as the client (see wsspeer.py), one
# KeyUpdate with update_requested (the server answers with its own) and one
# without, between masked text frames; websockets echo server.
cap_sclient_tls13_keyupdate() {
  py_tls13 wss-sclient-tls13-keyupdate 18612 TLS_AES_128_GCM_SHA256 --sclient
}

# Capture 1 again, in a private network namespace whose lo has MTU 1500 and
# segmentation offloads off (as bad-capture_gap in make-bad-captures.sh), so
# that TLS records span several TCP segments: the 17000-byte message is two
# records over twelve segments each way. Then two copies with one packet
# deleted each:
#   -lost-midrecord: the client's 3rd full-size (1448-byte) segment, which
#     lies inside the first record of the client's 17000-byte frame (neither
#     record header is in it): that record cannot be authenticated, the
#     next one starts where its length says.
#   -lost-header: the server segment that holds the header of the second
#     record of the server's 17000-byte echo (and the end of the first).
cap_py_tls13_mtu1500() {
  unshare -n bash "$HERE/make-wss-captures.sh" __netns_mtu1500
  local src="$CAPS/wss-py-tls13-mtu1500" fields n
  fields="$WORK/mtu1500.fields"
  tshark -n -r "$src.pcap" -T fields -e frame.number -e tcp.dstport -e tcp.seq -e tcp.len \
    >"$fields" 2>/dev/null
  # Client segments go to the server port 18613.
  n=$(awk '$2 == 18613 && $4 == 1448 { if (++k == 3) print $1 }' "$fields")
  lost_copy "$src" "$src-lost-midrecord" "$n"
  # The server's big echo starts at its first full-size segment; its first
  # record is 5 + 16384 + 1 + 16 = 16406 bytes (TLS 1.3, AES-GCM), so the
  # second record's header is at that offset.
  n=$(awk '$2 != 18613 && $4 == 1448 && !s { s = $3 } s && $2 != 18613 && $3 <= s + 16406 && s + 16406 < $3 + $4 { print $1; exit }' "$fields")
  lost_copy "$src" "$src-lost-header" "$n"
}
netns_mtu1500() {
  ip link set lo up
  ip link set lo mtu 1500
  ethtool -K lo tso off gso off gro off >/dev/null
  py_tls13 wss-py-tls13-mtu1500 18613 TLS_AES_128_GCM_SHA256 --big 17000
}

# lost_copy SRC DST PACKET: DST.pcap is SRC.pcap without PACKET, with SRC's
# key log copied as DST.keys.
lost_copy() {
  local src="$1" dst="$2" n="$3"
  [ -n "$n" ] || { echo "ERROR: no packet to delete in $src.pcap" >&2; return 1; }
  say "$(basename "$dst.pcap"): deleting packet $n of $(basename "$src.pcap")"
  editcap -F pcap "$src.pcap" "$dst.pcap" "$n"
  cp "$src.keys" "$dst.keys"
  chmod 644 "$dst.pcap" "$dst.keys"
  wsstsv "$dst.pcap" "$dst.keys"
}

# TLS 1.2 resumption: the second connection's abbreviated handshake reuses
# the first's master secret (from its session ticket); the key log has a
# CLIENT_RANDOM line for each connection.
cap_py_tls12_resumed() {
  py_capture wss-py-tls12-resumed 18614 --tls12 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256 --conns 2 --resume
}

# HelloRetryRequest: the client's key share is for X25519 only, the server
# takes P-256 only, so the server asks again.
cap_py_tls13_hrr() {
  SRV_CONF="$(tls_conf hrr-server 'Ciphersuites = TLS_AES_128_GCM_SHA256' 'Groups = P-256')" \
    CLI_CONF="$(tls_conf hrr-client 'Ciphersuites = TLS_AES_128_GCM_SHA256' 'Groups = X25519:P-256')" \
    py_capture wss-py-tls13-hrr 18610
}

# Linux cooked header: TLS 1.3 captured with tcpdump -i any (LINUX_SLL2).
cap_py_tls13_any() {
  IFACE_ARGS="-i any" py_tls13 wss-py-tls13-any-sll2 18611 TLS_AES_128_GCM_SHA256
}

# node_capture NAME PORT [peer options...]: ws client and server over TLS
# on PORT, captured on lo; the client's key log comes from node --tls-keylog.
node_capture() {
  local name="$1" port="$2"
  shift 2
  local f="$CAPS/$name.pcap" keys="$CAPS/$name.keys"
  say "$name"
  make_cert
  rm -f "$keys"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  start_server SRV_PID "$NODE" "$PEERS/wsspeer.js" server "$WORK/cert.pem" "$WORK/key.pem" \
    --port "$port" "$@"
  "$NODE" --tls-keylog="$keys" "$PEERS/wsspeer.js" client --port "$port" "$@"
  stop_server SRV_PID
  stop_capture
  chmod 644 "$keys"
  wsstsv "$f" "$keys"
}

# 4. Node ws over TLS 1.3 (Node's default suite), and over TLS 1.2 with
#    AES-256-GCM, whose TLS 1.2 PRF is SHA-384.
cap_node_tls13() { node_capture wss-node-tls13 18620; }
cap_node_tls12_aes256gcm() {
  node_capture wss-node-tls12-ecdsa-aes256gcm 18621 --tls12 ECDHE-ECDSA-AES256-GCM-SHA384
}

# 6. nginx terminating TLS: client -> nginx :18630 (TLS 1.3, nginx's
#    default suite) -> plaintext websockets echo server :18631; both legs in
#    one capture, the key log covers the client leg. nginx is started before
#    the capture and waited for with `ss`, so no probe connection shows.
cap_nginx_terminate() {
  local name=wss-nginx-terminate pport=18630 bport=18631
  local f="$CAPS/$name.pcap" keys="$CAPS/$name.keys" prefix="$WORK/nginx"
  say "$name: websockets client -TLS-> nginx :$pport -> websockets server :$bport"
  make_cert
  rm -f "$keys"
  mkdir -p "$prefix/tmp" "$prefix/logs"
  sed -e "s/@PROXY_PORT@/$pport/g" -e "s/@BACKEND_PORT@/$bport/g" \
    -e "s|@CERT@|$WORK/cert.pem|g" -e "s|@KEY@|$WORK/key.pem|g" \
    "$HERE/proxies/nginx-wss-terminate.conf" >"$prefix/nginx.conf"
  nginx -t -q -c "$prefix/nginx.conf" -p "$prefix/" -g 'daemon off;'
  : >"$WORK/nginx.err"
  nginx -c "$prefix/nginx.conf" -p "$prefix/" -g 'daemon off;' 2>"$WORK/nginx.err" &
  NGINX_PID=$!
  local i
  for i in $(seq 1 50); do
    [ -n "$(ss -Hltn "sport = :$pport")" ] && break
    sleep 0.1
  done
  start_capture tcpdump "$f" "tcp port $pport or tcp port $bport" -i lo
  start_server SRV_PID "$PY" "$PEERS/wsspeer.py" server --plain x x --port "$bport"
  "$PY" "$PEERS/wsspeer.py" client --port "$pport" --keylog "$keys"
  stop_nginx
  stop_server SRV_PID
  stop_capture
  chmod 644 "$keys"
  wsstsv "$f" "$keys"
}

# 11. ALPN h2 offered and chosen: WebSocket over HTTP/2 (RFC 8441), one
#     extended CONNECT and one text frame each way, written by hand. tshark
#     shows no WebSocket rows (it does not dissect RFC 8441), so the check
#     is that it decrypts the HTTP/2 frames.
cap_py_tls13_alpn_h2() {
  local name=wss-py-tls13-alpn-h2 port=18640 f keys
  f="$CAPS/$name.pcap" keys="$CAPS/$name.keys"
  say "$name"
  make_cert
  rm -f "$keys"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  start_server SRV_PID "$PY" "$PEERS/wsspeer.py" server "$WORK/cert.pem" "$WORK/key.pem" \
    --port $port --h2 --alpn h2
  "$PY" "$PEERS/wsspeer.py" client --port $port --keylog "$keys" --h2 --alpn h2,http/1.1
  stop_server SRV_PID
  stop_capture
  chmod 644 "$keys"
  tsv "$f" -o "tls.keylog_file:$keys"
  local n
  n=$(tshark -n -r "$f" -o "tls.keylog_file:$keys" -Y http2 2>/dev/null | wc -l)
  say "$name: $n packets with decrypted HTTP/2 frames"
  if [ "$n" = 0 ]; then
    echo "ERROR: tshark decrypted no HTTP/2 frame in $f" >&2
    return 1
  fi
}

ALL=(py_tls13_aes128 py_tls13_aes128_dsb py_tls13_aes128_lost
  py_tls13_aes256 py_tls13_chacha20 py_tls12_aes128gcm
  py_tls12_chacha20 py_tls12_aes128cbc py_tls13_deflate py_tls13_missing_key
  py_tls13_resumed py_tls12_resumed py_tls13_hrr py_tls13_any sclient_tls13_keyupdate py_tls13_mtu1500 node_tls13 node_tls12_aes256gcm
  nginx_terminate py_tls13_alpn_h2)
if [ "${1:-}" = __netns_mtu1500 ]; then netns_mtu1500; exit 0; fi
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for s in "$@"; do "cap_$s"; done
say "done"
