#!/usr/bin/env bash
# Benchmark: `sockscope list --json` (or --format F) against the floor (benches/floor.rs:
# one TCP sock_diag dump + a 2-thread fd walk, by hand), `ss -tanp`, `netstat -tanp` and
# `lsof -nP -iTCP` on N loopback TCP sockets held by P processes, inside a private
# network namespace this script creates and deletes; then the live view's UI-thread
# figures at each size (benches/tui.rs). See the README, Performance.
#
#   scripts/bench.sh [--sockets N[,N...]] [--procs P[,P...]] [--runs R]
#                    [--format json|csv|table] [--source proc|netlink] [--bin PATH]
#                    [--baseline PATH] [--no-build] [--no-peers] [--churn PCT]
#                    [--million] [-- EXTRA SOCKSCOPE ARGS]
#   --no-peers   time sockscope and the floor only (no ss, netstat, lsof)
#   --churn PCT  replace PCT% of the sockets a second while timing (scripts/loadgen.py
#                --churn), then time the kept collector's refreshes (benches/refresh.rs,
#                20 at 1 s) beside `list`: the steady-state refresh / list ratio
#   --million    the 1M point: 1,000,000 sockets (500k connections) over 100 processes,
#                --no-peers, 3 runs unless --runs says; takes minutes and ~5 GB
#
# Needs root (ip netns), ss (iproute2), netstat (net-tools), lsof, GNU time, python3.
set -euo pipefail

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
sizes=20000,100000
procs=""          # default: 100 processes at <= 20k sockets, 10 above (as in issue 7)
runs=5
format=json       # what `sockscope list` prints
bin="$repo/target/release/sockscope"
baseline=""
build=1
extra=()
peers=1
churn=""
million=0
runs_given=0
setup_timeout=600 # seconds for the load generator to establish everything
tool_timeout=300  # seconds for any one timed command

while [ $# -gt 0 ]; do
    case $1 in
        --sockets) sizes=${2:?}; shift 2 ;;
        --procs) procs=${2:?}; shift 2 ;;
        --runs) runs=${2:?}; runs_given=1; shift 2 ;;
        --no-peers) peers=0; shift ;;
        --churn) churn=${2:?}; shift 2 ;;
        --million) million=1; shift ;;
        --format) format=${2:?}; shift 2 ;;
        --source) extra+=(--source "${2:?}"); shift 2 ;;
        --bin) bin=${2:?}; build=0; shift 2 ;;
        --baseline) baseline=${2:?}; shift 2 ;;
        --no-build) build=0; shift ;;
        --) shift; extra+=("$@"); break ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
if [ $million = 1 ]; then
    sizes=1000000 procs=100 peers=0 setup_timeout=1800
    [ $runs_given = 1 ] || runs=3
fi
[[ $runs =~ ^[1-9][0-9]?$ ]] || die "--runs must be 1..99"
[[ -z $churn || $churn =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--churn takes a percentage, e.g. 1"
[[ $format =~ ^(json|csv|table)$ ]] || die "--format takes json, csv or table"
[[ $sizes =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--sockets takes numbers, e.g. 20000,100000"
[[ -z $procs || $procs =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--procs takes numbers, e.g. 10"

# --- prerequisites ---------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (for ip netns); try: sudo $0 $*"
missing=()
command -v ip >/dev/null || missing+=(iproute2)
if [ $peers = 1 ]; then
    command -v ss >/dev/null || missing+=(iproute2)
    command -v netstat >/dev/null || missing+=(net-tools)
    command -v lsof >/dev/null || missing+=(lsof)
fi
[ -x /usr/bin/time ] || missing+=(time)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    die "missing tools; install them with: apt-get install -y $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
fi
if [ $build = 1 ]; then
    echo "bench: cargo build --release" >&2
    (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
fi
# The floor, the refresh bench and the UI-thread bench: bench binaries, found where
# cargo says it put them.
benches=$(cd "$repo" && cargo build --release --quiet --bench floor --bench refresh --bench tui \
    --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])') || die "cannot build benches/floor.rs"
floor_bin=$(awk '$1 == "floor" { print $2 }' <<<"$benches")
refresh_bin=$(awk '$1 == "refresh" { print $2 }' <<<"$benches")
tui_bin=$(awk '$1 == "tui" { print $2 }' <<<"$benches")
[ -x "$floor_bin" ] && [ -x "$refresh_bin" ] && [ -x "$tui_bin" ] || die "no floor/refresh/tui bench binary"
[ -x "$bin" ] || die "no sockscope binary at $bin (build it with: cargo build --release)"
[ -z "$baseline" ] || [ -x "$baseline" ] || die "no baseline binary at $baseline"

# --- the namespace, the load generator, cleanup on every exit path (bench-ns.sh) ------
name=bench
# shellcheck source=scripts/bench-ns.sh
source "$repo/scripts/bench-ns.sh"

# --- timing ------------------------------------------------------------------------------
# time_one ROUND NAME CMD...: runs CMD once with output to /dev/null, appends
# "NAME seconds peak_rss_kb cpu_seconds ROUND" to $work/samples (CPU: user + system,
# every thread). Runs inside the namespace (see measure).
time_one() {
    local round=$1 name=$2; shift 2
    local t0 t1 used rc=0
    t0=$EPOCHREALTIME
    timeout --kill-after=5 "$tool_timeout" /usr/bin/time -f '%M %U %S' -o "$work/rss" \
        "$@" >/dev/null 2>"$work/err" || rc=$?
    t1=$EPOCHREALTIME
    # lsof exits 1 when some file could not be listed; anything else is a failure.
    if [ $rc -ne 0 ] && ! { [ "$name" = lsof ] && [ $rc = 1 ]; }; then
        echo "bench: $name exited $rc: $(head -c 300 "$work/err")" >&2
        [ $rc = 124 ] && echo "bench: ($name hit the ${tool_timeout}s limit)" >&2
    fi
    used=$(grep -E '^[0-9]+ [0-9.]+ [0-9.]+$' "$work/rss" | tail -1 || true)
    awk -v n="$name" -v a="$t0" -v b="$t1" -v u="${used:-0 0 0}" -v r="$round" 'BEGIN {
        split(u, f, " "); printf "%s %.4f %d %.2f %d\n", n, b - a, f[1], f[2] + f[3], r }' \
        >>"$work/samples"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
    else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stat_of() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$work/samples" | median; }
# paired_of NAME: the median over rounds of NAME's time / the floor's in the same round,
# which a machine's drift between rounds moves less than the ratio of the medians.
paired_of() { awk -v n="$1" '$1 == n { t[$5] = $2 } $1 == "floor" { f[$5] = $2 }
    END { for (r in t) if (f[r] > 0) print t[r] / f[r] }' "$work/samples" | median; }

# measure: one warm-up round (not counted), then $runs rounds of every tool in turn.
measure() {
    local r tool fmt=()
    # --json / --csv, which older binaries (a --baseline) know too; the table is the default.
    [ "$format" = table ] || fmt=("--$format")
    : >"$work/samples"
    for r in $(seq 0 "$runs"); do
        for tool in "${tools[@]}"; do
            case $tool in
                sockscope) time_one "$r" sockscope "$bin" list "${fmt[@]}" "${extra[@]}" ;;
                baseline) time_one "$r" baseline "$baseline" list "${fmt[@]}" "${extra[@]}" ;;
                floor) time_one "$r" floor "$floor_bin" ;;
                ss) time_one "$r" ss ss -tanp ;;
                netstat) time_one "$r" netstat netstat -tanp ;;
                lsof) time_one "$r" lsof lsof -nP -iTCP ;;
            esac
        done
        if [ "$r" = 0 ]; then : >"$work/samples"; fi # the warm-up round is dropped
    done
}

tools=(sockscope)
[ -n "$baseline" ] && tools+=(baseline)
tools+=(floor)
[ $peers = 0 ] || tools+=(ss netstat lsof)

report() { # N P
    local n=$1 p=$2 tool ss_med lsof_med floor_med med rss cpu paired
    ss_med=$(stat_of ss 2)
    lsof_med=$(stat_of lsof 2)
    floor_med=$(stat_of floor 2)
    printf '\n%d sockets, %d processes, %d runs (median wall time, peak RSS)%s\n' "$n" "$p" "$runs" \
        "${churn:+, ${churn}% of the sockets replaced a second}"
    printf '%-22s %10s %10s %10s %10s %10s %10s %10s\n' tool "time (s)" "/ ss" "/ lsof" "/ floor" \
        "paired" "CPU (s)" "RSS (MB)"
    for tool in "${tools[@]}"; do
        med=$(stat_of "$tool" 2)
        rss=$(stat_of "$tool" 3)
        cpu=$(stat_of "$tool" 4)
        paired=$(paired_of "$tool")
        local label=$tool
        [ "$tool" = sockscope ] && label="sockscope list $format"
        [ "$tool" = baseline ] && label="baseline"
        [ "$tool" = ss ] && label="ss -tanp"
        [ "$tool" = netstat ] && label="netstat -tanp"
        [ "$tool" = lsof ] && label="lsof -nP -iTCP"
        [ "$tool" = floor ] && label="floor (benches/floor)"
        awk -v l="$label" -v m="$med" -v s="$ss_med" -v o="$lsof_med" -v f="$floor_med" -v r="$rss" \
            -v c="$cpu" -v p="$paired" '
            function ratio(a, b) { return b == "nan" || b == 0 ? sprintf("%10s", "-") : sprintf("%9.3fx", a / b) }
            BEGIN { printf "%-22s %10.3f %s %s %s %s %10.2f %10.1f\n", l, m, ratio(m, s), ratio(m, o),
                ratio(m, f), p == "nan" ? sprintf("%10s", "-") : sprintf("%9.3fx", p), c, r / 1024 }'
    done
    echo "(/ floor: of the medians; paired: the median of each round's time / the floor's)"
}

# refresh_point N: the kept collector's refreshes under the running churn, each with a
# `list` beside it in the same interval (benches/refresh.rs --list): the ratio of each
# pair, whose median is the figure (list alone moves with the machine between runs).
refresh_point() {
    local n=$1 line paired
    echo "bench: timing 20 refreshes of the kept collector, 1 s apart, each with a list..." >&2
    line=$(ip netns exec "$ns" "$refresh_bin" --refreshes 20 --interval-ms 1000 --list "$bin") ||
        die "the refresh bench failed"
    echo "$line"
    paired=$(sed -n 's/.*refresh \/ list \([0-9.]*x wall, [0-9.]*x CPU\).*/\1/p' <<<"$line")
    echo "steady-state refresh / list --json at $n sockets, ${churn}%/s churn: $paired (goal <= 0.5x)"
}

echo "bench: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), $("$bin" --version 2>/dev/null || echo sockscope)${extra[*]:+, sockscope args: ${extra[*]}}" >&2
IFS=, read -ra size_list <<<"$sizes"
IFS=, read -ra proc_list <<<"${procs:-}"
i=0
for n in "${size_list[@]}"; do
    p=${proc_list[$i]:-${proc_list[0]:-}}
    [ -n "$p" ] || { if [ "$n" -le 20000 ]; then p=100; else p=10; fi; }
    [ $((n / 2)) -ge "$p" ] || p=$((n / 2 > 0 ? n / 2 : 1))
    i=$((i + 1))
    echo "bench: establishing $n sockets ($((n / 2)) connections) in $p processes..." >&2
    churn_arg=()
    [ -z "$churn" ] || churn_arg=(--churn "$(awk -v n="$n" -v c="$churn" 'BEGIN { print n * c / 100 }')")
    start_loadgen "$setup_timeout" --sockets "$n" --procs "$p" "${churn_arg[@]}"
    est=$(inns ss -Htn state established | wc -l)
    # Under churn a few connections are being replaced at any moment.
    [ "$est" -ge $((n * 99 / 100)) ] || die "only $est of $n sockets are ESTABLISHED"
    echo "bench: $est ESTABLISHED; timing ${tools[*]}, 1 warm-up + $runs runs each..." >&2
    # The whole timing loop runs in one `ip netns exec`, so no timed command pays for
    # entering the namespace. (Extra sockscope args are split on whitespace there.)
    export -f measure time_one
    ip netns exec "$ns" env BENCH_WORK="$work" BENCH_RUNS="$runs" BENCH_BIN="$bin" \
        BENCH_FORMAT="$format" BENCH_FLOOR="$floor_bin" \
        BENCH_BASELINE="$baseline" BENCH_TIMEOUT="$tool_timeout" \
        BENCH_TOOLS="${tools[*]}" BENCH_EXTRA="${extra[*]}" \
        bash -c 'set -u; work=$BENCH_WORK runs=$BENCH_RUNS bin=$BENCH_BIN format=$BENCH_FORMAT floor_bin=$BENCH_FLOOR
            baseline=$BENCH_BASELINE tool_timeout=$BENCH_TIMEOUT
            read -ra tools <<<"$BENCH_TOOLS"; read -ra extra <<<"$BENCH_EXTRA"; measure'
    report "$n" "$p"
    [ -z "$churn" ] || refresh_point "$n"
    stop_loadgen
done

# The live view's UI thread at each size: benches/tui.rs, synthetic sockets drawn into an
# off-screen terminal (no namespace needed; at 1M it takes minutes and ~1.5 GB).
for n in "${size_list[@]}"; do
    echo
    echo "bench: the live view's UI thread at $n sockets (benches/tui.rs)..." >&2
    "$tui_bin" "$n" || die "benches/tui.rs failed at $n sockets"
done
