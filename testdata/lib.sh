# Shared helpers for make-captures.sh and make-bad-captures.sh (sourced, not run).
# Every helper records the PID of what it starts and stops it by that PID.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CAPS="$HERE/captures"
PEERS="$HERE/peers"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/wscap-testdata.XXXXXX")"
mkdir -p "$CAPS"

CAP_PID=""
SRV_PID=""
SRV2_PID=""

cleanup() {
  local pid
  for pid in $SRV_PID $SRV2_PID $CAP_PID; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '== %s\n' "$*" >&2; }

# start_capture TOOL FILE FILTER [extra args...]
#   TOOL is tcpdump or dumpcap; waits until the capturer says it is listening.
start_capture() {
  local tool="$1" file="$2" filter="$3"
  shift 3
  rm -f "$file"
  CAP_FILE="$file"
  : >"$WORK/cap.err"
  case "$tool" in
    tcpdump) tcpdump -Z root -U -n --immediate-mode -B 16384 -w "$file" "$@" "$filter" 2>"$WORK/cap.err" & ;;
    dumpcap) dumpcap -q -w "$file" "$@" -f "$filter" 2>"$WORK/cap.err" & ;;
    *) echo "unknown capture tool $tool" >&2; return 1 ;;
  esac
  CAP_PID=$!
  local i
  for i in $(seq 1 50); do
    if grep -q -e 'listening on' -e 'Capturing on' "$WORK/cap.err"; then
      sleep 0.3
      return 0
    fi
    sleep 0.1
  done
  echo "capture did not start:" >&2
  cat "$WORK/cap.err" >&2
  return 1
}

stop_capture() {
  # Let the last packets reach the capturer: libpcap's TPACKET_V3 ring hands
  # over a block only when it is full or its timeout expires, and a capturer
  # stopped before that loses the packets in it.
  sleep 1.2
  kill -INT "$CAP_PID"
  wait "$CAP_PID" || true
  CAP_PID=""
  grep -h -e 'packets captured' -e 'dropped' -e 'Packets' "$WORK/cap.err" >&2 || true
  # ("received by filter" is twice "captured" on lo: libpcap drops the
  # outgoing copy of each looped-back packet.)
  local got
  got=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/cap.err")
  if grep -q -e '^[1-9][0-9]* packets dropped by kernel' "$WORK/cap.err"; then
    echo "ERROR: the kernel dropped packets for $CAP_FILE" >&2
    return 1
  fi
  if [ -n "$got" ] && [ "$got" = 0 ]; then
    echo "ERROR: empty capture $CAP_FILE" >&2
    return 1
  fi
  chmod 644 "$CAP_FILE" 2>/dev/null || true
}

# start_server VAR CMD...: runs CMD in the background, waits for READY on stdout,
# stores the PID in the variable named VAR (SRV_PID or SRV2_PID).
start_server() {
  local var="$1"
  shift
  local out="$WORK/$var.out"
  : >"$out"
  "$@" >"$out" 2>"$WORK/$var.err" &
  printf -v "$var" '%s' "$!"
  local i
  for i in $(seq 1 100); do
    if grep -q READY "$out"; then return 0; fi
    sleep 0.1
  done
  echo "server did not start: $*" >&2
  cat "$WORK/$var.err" >&2
  return 1
}

# stop_server VAR
stop_server() {
  local var="$1"
  local pid="${!var}"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  printf -v "$var" '%s' ""
  sed 's/^/   [server] /' "$WORK/$var.err" >&2 || true
}

# tsv FILE [tshark options...]: writes FILE.tshark.tsv next to FILE.
tsv() {
  local file="$1"
  shift
  tshark -n -r "$file" "$@" -Y websocket -T fields -E separator=/t \
    -e frame.number -e tcp.stream -e websocket.fin -e websocket.rsv \
    -e websocket.opcode -e websocket.mask -e websocket.payload_length \
    -e websocket.payload_length_ext_16 -e websocket.payload_length_ext_64 \
    >"$file.tshark.tsv"
  say "$(basename "$file"): $(wc -l <"$file.tshark.tsv") websocket packets in tshark"
}

PY="${PYTHON:-python3}"
NODE="${NODE:-node}"
