#!/usr/bin/env bash
# Regenerates the broken-traffic captures in captures/ (phase 2): one capture
# per protocol violation, with peers/rawpeer.py on one side and a real
# implementation (Python websockets or Node ws) on the other.
#
#   ./make-bad-captures.sh                    # everything
#   ./make-bad-captures.sh reserved_opcode    # only some cases (names below)
#
# What the real peer answered is printed (lines "rawpeer: server sent ...",
# "client: ...") and summarised in README.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RAW=("$PY" "$PEERS/rawpeer.py")

real_server() { # real_server KIND PORT
  local kind="$1" port="$2"
  case "$kind" in
    py) start_server SRV_PID "$PY" "$PEERS/pypeer.py" server --port "$port" ;;
    py-deflate) start_server SRV_PID "$PY" "$PEERS/pypeer.py" server --port "$port" --compression deflate ;;
    node) start_server SRV_PID "$NODE" "$PEERS/nodepeer.js" server --port "$port" ;;
    node-deflate) start_server SRV_PID "$NODE" "$PEERS/nodepeer.js" server --port "$port" --deflate ;;
    *) echo "unknown server kind $kind" >&2; return 1 ;;
  esac
}

# raw client against a real server: bad_client CASE PORT SERVER-KIND [FILE-NAME]
bad_client() {
  local case="$1" port="$2" kind="$3" name="${4:-bad-$1}"
  local f="$CAPS/$name.pcap"
  say "$name: rawpeer client -> $kind server, port $port"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  real_server "$kind" "$port"
  "${RAW[@]}" client "$case" --port "$port" || true
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# real client against the raw server: bad_server CASE PORT CLIENT-KIND [client args]
bad_server() {
  local case="$1" port="$2" kind="$3"
  shift 3
  local f="$CAPS/bad-$case.pcap"
  say "bad-$case: $kind client -> rawpeer server, port $port"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  start_server SRV_PID "${RAW[@]}" server "$case" --port "$port"
  case "$kind" in
    py) "$PY" "$PEERS/pypeer.py" client probe --port "$port" "$@" || true ;;
    node) "$NODE" "$PEERS/nodepeer.js" client probe --port "$port" "$@" || true ;;
  esac
  wait "$SRV_PID" || true # the raw server exits by itself after the exchange
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# --- frame-level violations, raw client -> real server
c_unmasked_client_frame()           { bad_client unmasked_client_frame 18020 py; }
c_reserved_opcode()                 { bad_client reserved_opcode 18021 node; }
c_rsv_bits_without_extension()      { bad_client rsv_bits_without_extension 18022 py; }
c_control_frame_too_long()          { bad_client control_frame_too_long 18023 node; }
c_fragmented_control_frame()        { bad_client fragmented_control_frame 18024 py; }
c_non_minimal_length()              { bad_client non_minimal_length 18025 py; }
c_length_msb_set()                  { bad_client length_msb_set 18026 node; }
c_continuation_without_start()      { bad_client continuation_without_start 18027 py; }
c_data_frame_during_fragmentation() { bad_client data_frame_during_fragmentation 18028 py; }
c_invalid_utf8()                    { bad_client invalid_utf8 18029 py; }
c_ok_utf8_split()                   { bad_client ok_utf8_split 18030 py ok-utf8-split; }
c_invalid_close_code()              { bad_client invalid_close_code 18031 node; }
c_close_payload_length_one()        { bad_client close_payload_length_one 18032 py; }
c_data_after_close()                { bad_client data_after_close 18033 py; }
c_rsv1_on_continuation()            { bad_client rsv1_on_continuation 18034 node-deflate; }
c_rsv1_on_control_frame()           { bad_client rsv1_on_control_frame 18035 node-deflate; }
c_deflate_error()                   { bad_client deflate_error 18036 py-deflate; }
c_bad_websocket_version()           { bad_client bad_websocket_version 18037 py; }
c_bad_websocket_key()               { bad_client bad_websocket_key 18038 py; }
c_tls_on_plaintext_port()           { bad_client tls_on_plaintext_port 18039 py; }
c_tls_in_websocket_stream()         { bad_client tls_in_websocket_stream 18040 py; }
c_unparseable_frame_data()          { bad_client unparseable_frame_data 18041 py; }
# websockets' default max_size is 1 MiB (1048576): the 2 MiB frame is over it.
c_frame_exceeds_limit()             { bad_client frame_exceeds_limit 18042 py; }
# An 80 MiB text message deflated to about 80 KB ("deflate bomb"): the frame
# is far below websockets' max_size, the inflated message far above it (and
# above wscap's 64 MiB inflate cap).
c_decompression_limit_exceeded()    { bad_client decompression_limit_exceeded 18045 py-deflate; }

# --- handshake-level violations, real client -> raw server
c_masked_server_frame()        { bad_server masked_server_frame 18050 py; }
c_handshake_rejected()         { bad_server handshake_rejected 18051 py; }
c_upgrade_header_missing()     { bad_server upgrade_header_missing 18052 py; }
c_connection_header_missing()  { bad_server connection_header_missing 18053 node; }
c_bad_accept_key()             { bad_server bad_accept_key 18054 node; }
c_extension_not_offered()      { bad_server extension_not_offered 18055 py; }
c_subprotocol_not_offered()    { bad_server subprotocol_not_offered 18056 py --subprotocol chat; }
c_http_in_websocket_stream()   { bad_server http_in_websocket_stream 18057 py; }

# --- capture-level problems
# The capture starts after the handshake: real websockets client and server,
# the client sends a message every second; tcpdump starts 0.5 s in.
c_handshake_not_captured() {
  local port=18060 f="$CAPS/bad-handshake_not_captured.pcap"
  say "bad-handshake_not_captured: websockets client -> websockets server, port $port"
  real_server py "$port"
  "$PY" "$PEERS/pypeer.py" client slow --port "$port" --tag late --pause 1.0 &
  local client=$!
  sleep 0.5
  start_capture tcpdump "$f" "tcp port $port" -i lo
  wait "$client"
  stop_server SRV_PID
  stop_capture
  # Without the handshake tshark does not recognise WebSocket by itself.
  tsv "$f" -d "tcp.port==$port,websocket"
}

# The capture stops while the raw client is in the middle of a frame.
c_incomplete_frame_at_end() {
  local port=18061 f="$CAPS/bad-incomplete_frame_at_end.pcap"
  say "bad-incomplete_frame_at_end: rawpeer client -> websockets server, port $port"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  real_server py "$port"
  "${RAW[@]}" client incomplete_frame_at_end --port "$port" >"$WORK/partial.out" &
  local client=$!
  local i
  for i in $(seq 1 50); do
    grep -q PARTIAL-SENT "$WORK/partial.out" && break
    sleep 0.1
  done
  stop_capture
  kill "$client" 2>/dev/null || true
  wait "$client" 2>/dev/null || true
  stop_server SRV_PID
  tsv "$f"
}

# Real websockets client and server; then two packets are deleted with editcap
# (pcaptool.py gap-packets picks them and says what they held): a segment in
# the middle of a frame's payload, and the segment holding another frame's
# header. Runs in a private network namespace whose lo has MTU 1500 and
# segmentation offloads off, so that each few-KB message spans several
# segments (on the normal lo it would be one 64 KB GSO packet).
c_capture_gap() {
  unshare -n bash "$HERE/make-bad-captures.sh" __netns_capture_gap
}
netns_capture_gap() {
  local port=18043 f="$CAPS/bad-capture_gap.pcap" full="$WORK/capture_gap-full.pcap"
  say "bad-capture_gap: websockets client -> websockets server, port $port (private netns, MTU 1500)"
  ip link set lo up
  ip link set lo mtu 1500
  ethtool -K lo tso off gso off gro off >/dev/null
  start_capture tcpdump "$full" "tcp port $port" -i lo
  real_server py "$port"
  "$PY" "$PEERS/pypeer.py" client gap --port "$port"
  stop_server SRV_PID
  stop_capture
  local del
  del=$("$PY" "$HERE/pcaptool.py" gap-packets "$full")
  say "deleting packets $del of $(basename "$full")"
  # shellcheck disable=SC2086
  editcap -F pcap "$full" "$f" $del
  chmod 644 "$f"
  tsv "$f"
}

# Real websockets client and server (the "short" exchange); then pcaptool.py
# inserts a copy of the client packet carrying the 3rd client data frame
# (text "y" * 200) right after it: with its last 3 payload bytes inverted
# (bad-retransmission_conflict) or identical (ok-retransmission). Same
# record header, same TCP sequence number; checksums are left as they were.
c_retransmission_conflict() {
  local port=18044 full="$WORK/retransmission-full.pcap"
  say "bad-retransmission_conflict / ok-retransmission: websockets client -> websockets server, port $port"
  start_capture tcpdump "$full" "tcp port $port" -i lo
  real_server py "$port"
  "$PY" "$PEERS/pypeer.py" client short --port "$port"
  stop_server SRV_PID
  stop_capture
  "$PY" "$HERE/pcaptool.py" duplicate "$full" "$CAPS/bad-retransmission_conflict.pcap" --change 3
  "$PY" "$HERE/pcaptool.py" duplicate "$full" "$CAPS/ok-retransmission.pcap"
  tsv "$CAPS/bad-retransmission_conflict.pcap"
  tsv "$CAPS/ok-retransmission.pcap"
}

ALL=(unmasked_client_frame reserved_opcode rsv_bits_without_extension control_frame_too_long
  fragmented_control_frame non_minimal_length length_msb_set continuation_without_start
  data_frame_during_fragmentation invalid_utf8 ok_utf8_split invalid_close_code
  close_payload_length_one data_after_close rsv1_on_continuation rsv1_on_control_frame
  deflate_error bad_websocket_version bad_websocket_key tls_on_plaintext_port
  tls_in_websocket_stream unparseable_frame_data frame_exceeds_limit
  masked_server_frame handshake_rejected upgrade_header_missing connection_header_missing
  bad_accept_key extension_not_offered subprotocol_not_offered http_in_websocket_stream
  handshake_not_captured incomplete_frame_at_end
  decompression_limit_exceeded capture_gap retransmission_conflict)
if [ "${1:-}" = __netns_capture_gap ]; then netns_capture_gap; exit 0; fi
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for s in "$@"; do "c_$s"; done
say "done"
