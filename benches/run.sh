#!/usr/bin/env bash
# wscap throughput and memory benchmark. See benches/README.md.
#
#   benches/run.sh                      # SIZE=1GiB, all profiles
#   SIZE=512MiB WITH_TSHARK=1 benches/run.sh
#
# Environment:
#   SIZE             capture size per profile (default 1GiB); the memory check
#                    also runs every format at SIZE/4
#   PROFILES         gencap profiles (default "small mixed large"); a profile
#                    with -tls appended (small-tls, mixed-tls, large-tls) is
#                    that profile inside TLS 1.3 (gencap --tls-keylog), read
#                    with its key log (wscap --tls-keylog)
#   WSCAP_BENCH_DIR  capture cache (default target/bench); captures are
#                    generated once per profile, size, seed and conns
#   SEED, CONNS      gencap --seed / --conns (default 1 / 1000)
#   PPS              gencap --pps, capture-time packet rate (default 500000):
#                    lower it to spread the same connections over more
#                    capture time (less closed-connection state held)
#   REPEAT           runs per measurement, best wall time kept (default 1)
#   WITH_TSHARK=1    also time tshark (and wscap, for comparison) on
#                    TSHARK_SIZE captures (default 64MiB; tshark is slow)
#   RSS_LIMIT_MIB    peak RSS limit (default 64)
#   RSS_GROWTH       largest allowed peak RSS ratio SIZE : SIZE/4 (default 1.5)
#   WSCAP_REV        label for the report header (default: git describe of HEAD)
#   LINEAR           "SMALL BIG" (e.g. "200MiB 2GiB"): instead of the above,
#                    time each format and the walk on both sizes of each
#                    profile, the two sizes alternated REPEAT times in one
#                    sitting, and report the time ratio against the bytes
#                    ratio (issue 12's target: within 15% of it). BIG may
#                    be "xN" (e.g. "200MiB x10"): SMALL's traffic N times
#                    over (gencap --repeat N), exactly N times the work
#
# Exit status: 0 all good; 1 a memory check failed or wscap exited with 2
# (damaged input / error); other values: the setup failed.
set -euo pipefail
# EPOCHREALTIME (the wall clock read without starting a process) is bash 5's.
((BASH_VERSINFO[0] >= 5)) || { echo "benches/run.sh needs bash 5 or later" >&2; exit 3; }
export LC_NUMERIC=C

cd "$(dirname "$0")/.."
SIZE=${SIZE:-1GiB}
PROFILES=${PROFILES:-"small mixed large"}
DIR=${WSCAP_BENCH_DIR:-target/bench}
SEED=${SEED:-1}
CONNS=${CONNS:-1000}
PPS=${PPS:-500000}
REPEAT=${REPEAT:-1}
WITH_TSHARK=${WITH_TSHARK:-0}
TSHARK_SIZE=${TSHARK_SIZE:-64MiB}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-64}
RSS_GROWTH=${RSS_GROWTH:-1.5}
TARGET=${CARGO_TARGET_DIR:-target}

log() { printf '%s\n' "$*" >&2; }

# "1GiB", "512MiB", "64MB", "1.5G", "1000" -> bytes.
to_bytes() {
    awk -v s="$1" 'BEGIN {
        n = s; sub(/[A-Za-z]+$/, "", n); u = substr(s, length(n) + 1); u = tolower(u)
        m["" ] = 1; m["b"] = 1
        m["k"] = 1e3; m["kb"] = 1e3; m["m"] = 1e6; m["mb"] = 1e6; m["g"] = 1e9; m["gb"] = 1e9
        m["ki"] = 2^10; m["kib"] = 2^10; m["mi"] = 2^20; m["mib"] = 2^20; m["gi"] = 2^30; m["gib"] = 2^30
        if (!(u in m) || n !~ /^[0-9.]+$/) { print "bad size " s > "/dev/stderr"; exit 1 }
        printf "%d\n", n * m[u]
    }'
}

human() { awk -v b="$1" 'BEGIN {
    if (b >= 2^30 && b % 2^30 == 0) printf "%dGiB", b / 2^30
    else if (b >= 2^20) printf "%gMiB", int(b / 2^20 * 10 + 0.5) / 10
    else printf "%dB", b }'; }

# --------------------------------------------------------------- setup

if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (/usr/bin/time)"
    if command -v apt-get >/dev/null; then
        SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
        $SUDO apt-get install -y time >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y time >/dev/null; }
    fi
    [[ -x /usr/bin/time ]] || { log "need GNU time at /usr/bin/time"; exit 3; }
fi

log "building (release)"
cargo build --release --quiet --bin wscap --example gencap --example walk
WSCAP=$TARGET/release/wscap
GENCAP=$TARGET/release/examples/gencap
WALK=$TARGET/release/examples/walk
mkdir -p "$DIR"

SIZE_B=$(to_bytes "$SIZE")
QUARTER_B=$((SIZE_B / 4))

# Capture for profile $1 of $2 bytes (times $3, gencap --repeat, if given),
# generated once; prints its path. The generator's report is kept next to
# it (.meta) for the frame count.
capture() {
    local profile=$1 bytes=$2 repeat=${3:-1}
    local f="$DIR/$profile-$(human "$bytes")"
    ((repeat == 1)) || f="$f-x$repeat"
    f="$f-c$CONNS-s$SEED"
    [[ $PPS == 500000 ]] || f="$f-pps$PPS"
    f="$f.pcap"
    local tls=()
    [[ $profile == *-tls ]] && tls=(--tls-keylog "$f.keys")
    if [[ ! -s $f || ! -s $f.meta ]]; then
        log "generating $f"
        "$GENCAP" --profile "${profile%-tls}" --size "$bytes" --conns "$CONNS" --seed "$SEED" \
            --pps "$PPS" --repeat "$repeat" "${tls[@]}" --out "$f.tmp" >"$f.meta.tmp"
        mv "$f.tmp" "$f" && mv "$f.meta.tmp" "$f.meta"
        cat "$f.meta" >&2
    fi
    printf '%s\n' "$f"
}

frames_of() { sed -n 's/.* \([0-9][0-9]*\) frames .*/\1/p' "$1.meta"; }

# Output formats of `wscap analyze` to measure: jsonl always, summary when
# --help lists it among --format's values.
# (No pipe into grep -q: with pipefail, grep leaving at its first match
# fails the writer with SIGPIPE once the help outgrows a pipe's buffer,
# and summary was silently dropped.)
FORMATS=(jsonl)
HELP=$("$WSCAP" analyze --help 2>/dev/null || true)
HELP=$(tr -d ',[]' <<<"$HELP")
if grep -Eq '(possible values:.*[[:space:]]summary\b|^[[:space:]]*-[[:space:]]*summary\b|Output format:.*summary)' <<<"$HELP"; then
    FORMATS+=(summary)
fi

# --------------------------------------------------------------- measuring

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS" "$RESULTS".*' EXIT
FAIL=0

# Puts CAPTURE in the page cache as one sequential read leaves it: dropped
# from the cache (dd iflag=nocache), then read whole. Measured from the
# cache, not the disk; and not from whatever the cache had kept: pages the
# kernel reclaimed (this VM's DAMON does, from files left idle) and that
# came back piecemeal sit in 4 KiB pages instead of large folios, and the
# same 200 MiB then took the walk 51 ms instead of 32 and wscap 55 instead
# of 45 (benches/README.md, "The page cache's state").
cache_afresh() {
    dd if="$1" iflag=nocache count=0 status=none 2>/dev/null \
        || log "could not drop $1 from the page cache; timing it as cached"
    cat "$1" >/dev/null
}

# measure TOOL FORMAT PROFILE CAPTURE -- COMMAND...: runs COMMAND (stdout
# to /dev/null) REPEAT times under GNU time; records the best wall time and
# the largest peak RSS as a tab-separated row.
measure() {
    local tool=$1 format=$2 profile=$3 cap=$4
    shift 5
    local bytes frames best="" user="" sys="" rss=0 rc=0
    bytes=$(stat -c %s "$cap")
    frames=$(frames_of "$cap")
    cache_afresh "$cap"
    for ((i = 0; i < REPEAT; i++)); do
        local t0 t1 wall r u s
        # Bash's own clock, not `date`: each $(date) is a process started
        # inside the timed span, 1.1 ms in all on this machine (a 200 MiB
        # mixed run is about 45 ms).
        t0=$EPOCHREALTIME
        set +e
        /usr/bin/time -v -o "$RESULTS.time" "$@" >/dev/null 2>"$RESULTS.err"
        rc=$?
        set -e
        t1=$EPOCHREALTIME
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$RESULTS.time")
        u=$(awk -F': ' '/User time/ { print $2 }' "$RESULTS.time")
        s=$(awk -F': ' '/System time/ { print $2 }' "$RESULTS.time")
        ((r > rss)) && rss=$r
        if [[ -z $best ]] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall user=$u sys=$s
        fi
    done
    if [[ $tool == wscap && $rc -ge 2 ]]; then
        log "wscap exited $rc on $cap:"; head -5 "$RESULTS.err" >&2
        FAIL=1
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$tool" "$format" "$profile" "$bytes" "$best" "$user" "$sys" "$frames" "$rss" "$rc" >>"$RESULTS"
    log "$(printf '%-6s %-8s %-6s %6s  %7.3fs  rss %6.1f MiB  rc %s' "$tool" "$format" "$profile" \
        "$(human "$bytes")" "$best" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$rc")"
}

# Wall seconds of one run of COMMAND (output discarded).
time_once() {
    local t0 t1
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || true
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.5f", b - a }'
}

# Time against size: the two captures of each profile timed alternately
# in one sitting (REPEAT times, best of each kept), so that the machine's
# state, which moves by 10-30% between sittings here, is the same for
# both; separate sittings were what the ratio first compared. A BIG of
# "xN" is the small capture's traffic N times over (gencap --repeat): one
# generation at N times the size holds the same thousand connections'
# opening and closing as the small one, so not N times its work.
linear() {
    local small_b big_b repeat=1
    read -r small_b big_b <<<"$LINEAR"
    small_b=$(to_bytes "$small_b")
    if [[ $big_b == x* ]]; then
        repeat=${big_b#x}
        [[ $repeat =~ ^[1-9][0-9]*$ ]] || { log "LINEAR: bad repeat $big_b"; exit 3; }
        big_b=$((repeat * small_b))
    else
        big_b=$(to_bytes "$big_b")
    fi
    local big_label
    big_label=$(human "$big_b")
    ((repeat == 1)) || big_label="$(human "$small_b") x$repeat"
    echo "wscap $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), REPEAT=$REPEAT, alternated"
    echo
    echo "| tool | format | profile | $(human "$small_b") s | $big_label s | ratio | bytes ratio | within +-15% of it |"
    echo "|---|---|---|---:|---:|---:|---:|---|"
    for profile in $PROFILES; do
        local caps=() cap
        if ((repeat == 1)); then
            caps=("$(capture "$profile" "$small_b")" "$(capture "$profile" "$big_b")")
        else
            caps=("$(capture "$profile" "$small_b")" "$(capture "$profile" "$small_b" "$repeat")")
        fi
        for cap in "${caps[@]}"; do cache_afresh "$cap"; done
        for format in "${FORMATS[@]}" walk; do
            local best=("" "") i k t cmd
            for ((i = 0; i < REPEAT; i++)); do
                for k in 0 1; do
                    cap=${caps[k]}
                    if [[ $format == walk ]]; then
                        cmd=("$WALK" "$cap")
                    else
                        cmd=("$WSCAP" analyze --format "$format")
                        [[ $profile == *-tls ]] && cmd+=(--tls-keylog "$cap.keys")
                        cmd+=("$cap")
                    fi
                    t=$(time_once "${cmd[@]}")
                    if [[ -z ${best[k]} ]] || awk -v a="$t" -v b="${best[k]}" 'BEGIN { exit !(a < b) }'; then
                        best[k]=$t
                    fi
                done
            done
            awk -v tool="$([[ $format == walk ]] && echo walk || echo wscap)" \
                -v f="$([[ $format == walk ]] && echo - || echo "$format")" -v p="$profile" \
                -v a="${best[0]}" -v b="${best[1]}" -v sa="$(stat -c %s "${caps[0]}")" \
                -v sb="$(stat -c %s "${caps[1]}")" 'BEGIN {
                r = b / a
                printf "| %s | %s | %s | %.4f | %.3f | %.2f | %.2f | %s |\n", tool, f, p, a, b, r, sb / sa,
                    (r >= 0.85 * sb / sa && r <= 1.15 * sb / sa) ? "yes" : "no" }'
            log "$profile $format done"
        done
    done
}

if [[ -n ${LINEAR:-} ]]; then
    linear
    exit 0
fi

for profile in $PROFILES; do
    big=$(capture "$profile" "$SIZE_B")
    quarter=$(capture "$profile" "$QUARTER_B")
    for format in "${FORMATS[@]}"; do
        for cap in "$big" "$quarter"; do
            keys=()
            [[ $profile == *-tls ]] && keys=(--tls-keylog "$cap.keys")
            measure wscap "$format" "$profile" "$cap" -- "$WSCAP" analyze --format "$format" "${keys[@]}" "$cap"
        done
    done
    # The floor: only walking the records and slicing the headers, one
    # thread (examples/walk.rs), on the same captures.
    for cap in "$big" "$quarter"; do
        measure walk - "$profile" "$cap" -- "$WALK" "$cap"
    done
done

if [[ $WITH_TSHARK == 1 ]]; then
    if command -v tshark >/dev/null; then
        TS_B=$(to_bytes "$TSHARK_SIZE")
        for profile in $PROFILES; do
            [[ $profile == *-tls ]] && continue # tshark would need the key log
            cap=$(capture "$profile" "$TS_B")
            measure tshark websocket "$profile" "$cap" -- \
                tshark -r "$cap" -Y websocket -T fields -e frame.number
            for format in "${FORMATS[@]}"; do
                measure wscap "$format" "$profile" "$cap" -- "$WSCAP" analyze --format "$format" "$cap"
            done
        done
    else
        log "WITH_TSHARK=1 but tshark is not installed; skipped"
    fi
fi

# --------------------------------------------------------------- report

echo
if [[ -n ${WSCAP_REV:-} ]]; then
    rev=$WSCAP_REV
elif rev=$(git rev-parse --short HEAD 2>/dev/null); then
    git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || rev="$rev+uncommitted"
else
    rev="(not a git checkout)"
fi
echo "wscap $rev, $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg), REPEAT=$REPEAT"
echo
echo "| tool | format | profile | capture | wall s | user s | sys s | MB/s | CPU MB/s | frames/s | peak RSS MiB |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
while IFS=$'\t' read -r tool format profile bytes wall user sys frames rss rc; do
    awk -v t="$tool" -v f="$format" -v p="$profile" -v h="$(human "$bytes")" -v b="$bytes" \
        -v w="$wall" -v u="$user" -v s="$sys" -v fr="$frames" -v r="$rss" -v rc="$rc" 'BEGIN {
        if (w <= 0) w = 0.001
        c = u + s; if (c <= 0) c = 0.01
        note = (rc != 0) ? sprintf(" (exit %s)", rc) : ""
        printf "| %s%s | %s | %s | %s | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %.1f |\n",
            t, note, f, p, h, w, u, s, b / 1e6 / w, b / 1e6 / c, fr / w, r / 1024 }'
done <"$RESULTS"

echo
echo "Memory scaling (wscap, peak RSS at $(human "$SIZE_B") vs $(human "$QUARTER_B"); limit ${RSS_LIMIT_MIB} MiB, growth <= ${RSS_GROWTH}x):"
echo
for profile in $PROFILES; do
    for format in "${FORMATS[@]}"; do
        big=$(awk -F'\t' -v p="$profile" -v f="$format" -v b="$SIZE_B" \
            '$1 == "wscap" && $2 == f && $3 == p && $4 >= b * 0.9 { print $9; exit }' "$RESULTS")
        small=$(awk -F'\t' -v p="$profile" -v f="$format" -v b="$QUARTER_B" -v B="$SIZE_B" \
            '$1 == "wscap" && $2 == f && $3 == p && $4 >= b * 0.9 && $4 < B * 0.9 { print $9; exit }' "$RESULTS")
        [[ -n $big && -n $small ]] || continue
        verdict=$(awk -v a="$big" -v q="$small" -v lim="$RSS_LIMIT_MIB" -v g="$RSS_GROWTH" 'BEGIN {
            ratio = a / q; bad = ""
            if (a / 1024 > lim || q / 1024 > lim) bad = bad " over " lim " MiB;"
            if (ratio > g) bad = bad " grows " sprintf("%.2f", ratio) "x;"
            printf "%s %.1f MiB vs %.1f MiB (x%.2f)%s", (bad == "" ? "ok  " : "FAIL"), a / 1024, q / 1024, ratio, bad }')
        echo "- $profile $format: $verdict"
        [[ $verdict == FAIL* ]] && FAIL=1
    done
done
exit $FAIL
