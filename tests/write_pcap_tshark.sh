#!/usr/bin/env bash
# An extra check of --write-pcap against Wireshark, for when tshark is
# installed (the tests do not need it): for every connection of every
# capture in testdata/captures (and ../shared/captures-public), the packets
# `wscap --conn N --write-pcap` writes must be the packets tshark selects
# with the connection's own wireshark_filter (times and lengths compared).
#
# Usage: tests/write_pcap_tshark.sh [WSCAP]   (default target/release/wscap)
set -euo pipefail
cd "$(dirname "$0")/.."
wscap=${1:-target/release/wscap}
command -v tshark >/dev/null || { echo "tshark not installed: nothing checked"; exit 0; }
command -v jq >/dev/null || { echo "needs jq"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fields() { tshark -n -r "$1" ${2:+-Y "$2"} -T fields -e frame.time_epoch -e frame.len -e frame.cap_len </dev/null 2>/dev/null; }
for f in testdata/captures/*.pcap* ../shared/captures-public/*.pcap*; do
    case "$f" in *.tsv|*.txt) continue ;; esac
    [ -e "$f" ] || continue
    # wscap exits 1 on findings: its records are what is wanted here.
    { "$wscap" --format jsonl "$f" 2>/dev/null || true; } |
        jq -r 'select(.type=="connection") | "\(.conn)\t\(.wireshark_filter)"' |
    while IFS=$'\t' read -r conn filter; do
        "$wscap" --format summary --conn "$conn" --write-pcap "$tmp/out.pcap" "$f" </dev/null >/dev/null 2>&1 || true
        if ! diff <(fields "$tmp/out.pcap" | sort) <(fields "$f" "$filter" | sort) >"$tmp/diff"; then
            echo "DIFFERS: $f conn $conn ($filter)"; head -5 "$tmp/diff"
        fi
    done
done | tee "$tmp/log"
if grep -q DIFFERS "$tmp/log"; then echo "some connections differ"; exit 1; fi
echo "every connection's packets are the ones its filter selects in tshark"
