#!/usr/bin/env bash
# Regenerates the real-traffic captures in captures/ (phase 1: well-formed traffic).
#
#   ./make-captures.sh            # all scenarios
#   ./make-captures.sh py_echo    # only some (function names below, without cap_)
#
# Needs: root (tcpdump/dumpcap on lo), tcpdump, tshark, dumpcap, python3 with
# the packages in requirements.txt, node with `npm ci` run in peers/.
# Servers listen on 127.0.0.1 / ::1 only; each scenario uses its own port and
# a capture filter on it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pyserver() { # pyserver PORT [HOST] [more server args...]
  local port="$1" host="${2:-127.0.0.1}"
  shift 2 || shift $#
  start_server SRV_PID "$PY" "$PEERS/pypeer.py" server --host "$host" --port "$port" "$@"
}
pyclient() { "$PY" "$PEERS/pypeer.py" client "$@"; }

# 1. Python echo server + client, no compression, every length encoding.
cap_py_echo() {
  local port=18001 f="$CAPS/py-echo.pcap"
  say "py-echo"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  pyserver $port 127.0.0.1
  pyclient echo --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
  # 8. gzip copy (deterministic: -n drops name and mtime)
  gzip -9 -n -c "$f" >"$f.gz"
  tsv "$f.gz"
}

# 2. Node ws <-> Node ws with permessage-deflate, pcapng via dumpcap.
cap_node_deflate() {
  local port=18002 f="$CAPS/node-deflate.pcapng"
  say "node-deflate"
  start_capture dumpcap "$f" "tcp port $port" -i lo
  start_server SRV_PID "$NODE" "$PEERS/nodepeer.js" server --port $port --deflate
  "$NODE" "$PEERS/nodepeer.js" client deflate --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 3. Short echo exchange over ::1.
cap_py_ipv6() {
  local port=18003 f="$CAPS/py-ipv6.pcap"
  say "py-ipv6"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  pyserver $port ::1
  pyclient short --host ::1 --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 4. Client socket with TCP_MAXSEG 88: frames span many segments.
# Runs in a private network namespace (unshare -n) whose lo has TSO/GSO turned
# off: on the normal lo the kernel hands tcpdump unsegmented GSO super-packets
# and the small MSS would not show in the capture. The host's lo is untouched.
cap_py_small_mss() {
  unshare -n bash "$HERE/make-captures.sh" __netns_small_mss
}
netns_small_mss() {
  local port=18004 f="$CAPS/py-small-mss.pcap"
  say "py-small-mss (in a private network namespace, lo without TSO/GSO)"
  ip link set lo up
  ethtool -K lo tso off gso off gro off >/dev/null
  start_capture tcpdump "$f" "tcp port $port" -i lo
  pyserver $port 127.0.0.1
  pyclient small-mss --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 5. Capture on the "any" device: Linux cooked capture v1 and v2.
#    v1 is written by dumpcap -P (pcap): Debian's tcpdump 4.99.3 with
#    `-i any -y LINUX_SLL` reports packets "received by filter" but writes
#    none. v2 is written by tcpdump -i any -y LINUX_SLL2.
cap_py_any_sll() {
  local port=18005 f="$CAPS/py-any-sll.pcap"
  say "py-any-sll"
  start_capture dumpcap "$f" "tcp port $port" -i any -y LINUX_SLL -P
  pyserver $port 127.0.0.1
  pyclient short --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"

  port=18006 f="$CAPS/py-any-sll2.pcap"
  say "py-any-sll2"
  start_capture tcpdump "$f" "tcp port $port" -i any -y LINUX_SLL2
  pyserver $port 127.0.0.1
  pyclient short --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 6. Nanosecond timestamps.
cap_py_nano() {
  local port=18007 f="$CAPS/py-nano.pcap"
  say "py-nano"
  start_capture tcpdump "$f" "tcp port $port" -i lo --time-stamp-precision=nano
  pyserver $port 127.0.0.1
  pyclient short --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 7. Snaplen 300: the handshake (about 200 bytes) survives so tshark can follow
# the upgrade, but every larger segment is cut: frame headers at the start of
# a segment survive, payload bytes are missing.
cap_py_snaplen() {
  local port=18008 f="$CAPS/py-snaplen.pcap"
  say "py-snaplen"
  start_capture tcpdump "$f" "tcp port $port" -i lo -s 300
  pyserver $port 127.0.0.1
  pyclient large --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 9. Node ws client -> Python websockets server, no compression.
cap_node_echo() {
  local port=18009 f="$CAPS/node-echo.pcap"
  say "node-echo"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  pyserver $port 127.0.0.1
  "$NODE" "$PEERS/nodepeer.js" client echo --port $port
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

# 10. Two overlapping WebSocket connections plus one plain HTTP GET.
cap_py_two_conns() {
  local port=18010 f="$CAPS/py-two-conns.pcap"
  say "py-two-conns"
  start_capture tcpdump "$f" "tcp port $port" -i lo
  pyserver $port 127.0.0.1
  pyclient slow --port $port --tag alice --pause 0.3 &
  local c1=$!
  sleep 0.15
  pyclient slow --port $port --tag bob --pause 0.3 &
  local c2=$!
  sleep 0.2
  "$PY" "$PEERS/plainget.py" --port $port
  wait $c1
  wait $c2
  stop_server SRV_PID
  stop_capture
  tsv "$f"
}

ALL=(py_echo node_deflate py_ipv6 py_small_mss py_any_sll py_nano py_snaplen node_echo py_two_conns)
if [ "${1:-}" = __netns_small_mss ]; then netns_small_mss; exit 0; fi
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for s in "$@"; do "cap_$s"; done
say "done"
