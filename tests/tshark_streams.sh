#!/usr/bin/env bash
# Regenerates tests/tshark_streams.tsv: for every capture in
# testdata/captures and ../shared/captures-public, each TCP stream tshark
# numbers (tcp.stream), with its first frame and the two endpoints of that
# frame (source first). tests/wireshark.rs compares wscap's connection
# records with it, so that `tcp.stream eq N` in a record is tested against
# Wireshark without tshark at test time.
#
# Needs tshark (Debian `tshark`). Made with tshark 4.0.17.
# Run from anywhere: ./tests/tshark_streams.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/tshark_streams.tsv
{
    printf '# capture\tstream\tfirst_frame\tsrc\tdst\n'
    for dir in testdata/captures ../shared/captures-public; do
        [ -d "$dir" ] || continue
        label=$(basename "$dir")
        for f in "$dir"/*.pcap "$dir"/*.pcapng "$dir"/*.pcap.gz; do
            [ -e "$f" ] || continue
            name="$label/$(basename "$f")"
            # Inner headers of tunnels come last in multi-valued fields.
            tshark -n -r "$f" -Y tcp -T fields -E separator=/t \
                -e tcp.stream -e frame.number -e ip.src -e ipv6.src -e tcp.srcport \
                -e ip.dst -e ipv6.dst -e tcp.dstport 2>/dev/null |
                awk -F'\t' -v name="$name" '
                    function last(v,  a, n) { n = split(v, a, ","); return a[n] }
                    function ep(ip, port) { return (ip ~ /:/) ? "[" ip "]:" port : ip ":" port }
                    $1 != "" {
                        s = last($1)
                        if (s in seen) next
                        seen[s] = 1
                        src = ($3 != "") ? last($3) : last($4)
                        dst = ($6 != "") ? last($6) : last($7)
                        printf "%s\t%s\t%s\t%s\t%s\n", name, s, $2, ep(src, last($5)), ep(dst, last($8))
                    }' | sort -t$'\t' -k2,2n
            # A capture without TCP still gets a line, so that the test knows
            # it was looked at.
            if ! tshark -n -r "$f" -Y tcp -c 1 -T fields -e frame.number 2>/dev/null | grep -q .; then
                printf '%s\t-\t-\t-\t-\n' "$name"
            fi
        done
    done
} >"$out"
echo "wrote $out ($(grep -vc '^#' "$out") lines)"
