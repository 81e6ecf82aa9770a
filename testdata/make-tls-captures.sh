#!/usr/bin/env bash
# Regenerates the issue-11 capture of WebSocket inside TLS (wss://) in
# captures/: tls-wss.pcap, a websockets client and echo server talking TLS
# 1.3 on 127.0.0.1:18443. wscap cannot read the WebSocket inside; it marks
# the connection `tls` (version, SNI, ALPN) and counts it in the summary.
#
#   ./make-tls-captures.sh
#
# Needs what make-captures.sh needs (root, tcpdump, tshark, python3 with
# websockets) and openssl (a throwaway self-signed certificate, made in the
# script's temporary directory and deleted with it). The server listens on
# 127.0.0.1 only, exits by itself after 30 s and is stopped by PID.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# 1. wss:// echo: TLS 1.3 with SNI wscap.test and ALPN http/1.1, three echo
#    round trips, close 1000, all encrypted.
cap_tls_wss() {
  local port=18443 f="$CAPS/tls-wss.pcap"
  say "tls-wss"
  # An EC key keeps the certificate, and so the capture, small.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 1 -subj /CN=wscap.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  start_capture tcpdump "$f" "tcp port $port" -i lo
  start_server SRV_PID "$PY" "$PEERS/tlspeer.py" server "$WORK/cert.pem" "$WORK/key.pem" --port $port
  "$PY" "$PEERS/tlspeer.py" client --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

ALL=(tls_wss)
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for s in "$@"; do "cap_$s"; done
say "done"
