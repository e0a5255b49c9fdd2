#!/usr/bin/env bash
# Benchmark: `sockscope list --json` (or --format F) against `ss -tanp`, `netstat -tanp` and
# `lsof -nP -iTCP` on N loopback TCP sockets held by P processes, inside a private
# network namespace this script creates and deletes. See the README, Performance.
#
#   scripts/bench.sh [--sockets N[,N...]] [--procs P[,P...]] [--runs R]
#                    [--format json|csv|table] [--source proc|netlink] [--bin PATH]
#                    [--baseline PATH] [--no-build] [-- EXTRA SOCKSCOPE ARGS]
#
# Needs root (ip netns), ss (iproute2), netstat (net-tools), lsof, GNU time, python3.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
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
setup_timeout=600 # seconds for the load generator to establish everything
tool_timeout=300  # seconds for any one timed command

while [ $# -gt 0 ]; do
    case $1 in
        --sockets) sizes=${2:?}; shift 2 ;;
        --procs) procs=${2:?}; shift 2 ;;
        --runs) runs=${2:?}; shift 2 ;;
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
[[ $runs =~ ^[1-9][0-9]?$ ]] || die "--runs must be 1..99"
[[ $format =~ ^(json|csv|table)$ ]] || die "--format takes json, csv or table"
[[ $sizes =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--sockets takes numbers, e.g. 20000,100000"
[[ -z $procs || $procs =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--procs takes numbers, e.g. 10"

# --- prerequisites ---------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (for ip netns); try: sudo $0 $*"
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v ss >/dev/null || missing+=(iproute2)
command -v netstat >/dev/null || missing+=(net-tools)
command -v lsof >/dev/null || missing+=(lsof)
[ -x /usr/bin/time ] || missing+=(time)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    die "missing tools; install them with: apt-get install -y $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
fi
if [ $build = 1 ]; then
    echo "bench: cargo build --release" >&2
    (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[ -x "$bin" ] || die "no sockscope binary at $bin (build it with: cargo build --release)"
[ -z "$baseline" ] || [ -x "$baseline" ] || die "no baseline binary at $baseline"

# --- cleanup, on every exit path ---------------------------------------------------------
ns="sockscope-bench-$$"
work=$(mktemp -d "/tmp/sockscope-bench.XXXXXX")
loadgen_pid=""

stop_loadgen() {
    if [ -n "$loadgen_pid" ]; then
        kill -TERM "$loadgen_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$loadgen_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$loadgen_pid" 2>/dev/null || true
        wait "$loadgen_pid" 2>/dev/null || true
        loadgen_pid=""
    fi
    # Everything still in our private namespace was started by this script.
    if ip netns list | grep -qw "$ns"; then
        local pids
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    fi
}
cleanup() {
    trap - EXIT INT TERM
    stop_loadgen
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

ip netns add "$ns" || die "ip netns add $ns failed"
ip -n "$ns" link set lo up
# More ephemeral ports and a deeper accept queue; only inside our namespace.
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
    net.core.somaxconn=4096 >/dev/null || true
inns() { ip netns exec "$ns" "$@"; }

# --- timing ------------------------------------------------------------------------------
# time_one NAME CMD...: runs CMD once with output to /dev/null, appends
# "NAME seconds peak_rss_kb" to $work/samples. Runs inside the namespace (see measure).
time_one() {
    local name=$1; shift
    local t0 t1 rss rc=0
    t0=$EPOCHREALTIME
    timeout --kill-after=5 "$tool_timeout" /usr/bin/time -f %M -o "$work/rss" \
        "$@" >/dev/null 2>"$work/err" || rc=$?
    t1=$EPOCHREALTIME
    # lsof exits 1 when some file could not be listed; anything else is a failure.
    if [ $rc -ne 0 ] && ! { [ "$name" = lsof ] && [ $rc = 1 ]; }; then
        echo "bench: $name exited $rc: $(head -c 300 "$work/err")" >&2
        [ $rc = 124 ] && echo "bench: ($name hit the ${tool_timeout}s limit)" >&2
    fi
    rss=$(grep -E '^[0-9]+$' "$work/rss" | tail -1 || true)
    echo "$name $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') ${rss:-0}" \
        >>"$work/samples"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
    else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stat_of() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$work/samples" | median; }

# measure: one warm-up round (not counted), then $runs rounds of every tool in turn.
measure() {
    local r tool fmt=()
    # --json / --csv, which older binaries (a --baseline) know too; the table is the default.
    [ "$format" = table ] || fmt=("--$format")
    : >"$work/samples"
    for r in $(seq 0 "$runs"); do
        for tool in "${tools[@]}"; do
            case $tool in
                sockscope) time_one sockscope "$bin" list "${fmt[@]}" "${extra[@]}" ;;
                baseline) time_one baseline "$baseline" list "${fmt[@]}" "${extra[@]}" ;;
                ss) time_one ss ss -tanp ;;
                netstat) time_one netstat netstat -tanp ;;
                lsof) time_one lsof lsof -nP -iTCP ;;
            esac
        done
        if [ "$r" = 0 ]; then : >"$work/samples"; fi # the warm-up round is dropped
    done
}

tools=(sockscope)
[ -n "$baseline" ] && tools+=(baseline)
tools+=(ss netstat lsof)

report() { # N P
    local n=$1 p=$2 tool ss_med lsof_med med rss
    ss_med=$(stat_of ss 2)
    lsof_med=$(stat_of lsof 2)
    printf '\n%d sockets, %d processes, %d runs (median wall time, peak RSS)\n' "$n" "$p" "$runs"
    printf '%-22s %10s %10s %10s %10s\n' tool "time (s)" "/ ss" "/ lsof" "RSS (MB)"
    for tool in "${tools[@]}"; do
        med=$(stat_of "$tool" 2)
        rss=$(stat_of "$tool" 3)
        local label=$tool
        [ "$tool" = sockscope ] && label="sockscope list $format"
        [ "$tool" = baseline ] && label="baseline"
        [ "$tool" = ss ] && label="ss -tanp"
        [ "$tool" = netstat ] && label="netstat -tanp"
        [ "$tool" = lsof ] && label="lsof -nP -iTCP"
        awk -v l="$label" -v m="$med" -v s="$ss_med" -v o="$lsof_med" -v r="$rss" \
            'BEGIN { printf "%-22s %10.3f %9.3fx %9.3fx %10.1f\n", l, m, m / s, m / o, r / 1024 }'
    done
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
    rm -f "$work/ready"
    ip netns exec "$ns" python3 "$repo/scripts/loadgen.py" --sockets "$n" --procs "$p" \
        --ready-file "$work/ready" --setup-timeout "$setup_timeout" \
        </dev/null >"$work/loadgen.out" 2>&1 &
    loadgen_pid=$!
    for _ in $(seq $((setup_timeout * 10 + 50))); do
        [ -e "$work/ready" ] && break
        kill -0 "$loadgen_pid" 2>/dev/null || die "load generator failed: $(cat "$work/loadgen.out")"
        sleep 0.1
    done
    [ -e "$work/ready" ] || die "load generator not ready after ${setup_timeout}s"
    est=$(inns ss -Htn state established | wc -l)
    [ "$est" -ge "$n" ] || die "only $est of $n sockets are ESTABLISHED"
    echo "bench: $est ESTABLISHED; timing ${tools[*]}, 1 warm-up + $runs runs each..." >&2
    # The whole timing loop runs in one `ip netns exec`, so no timed command pays for
    # entering the namespace. (Extra sockscope args are split on whitespace there.)
    export -f measure time_one
    ip netns exec "$ns" env BENCH_WORK="$work" BENCH_RUNS="$runs" BENCH_BIN="$bin" \
        BENCH_FORMAT="$format" \
        BENCH_BASELINE="$baseline" BENCH_TIMEOUT="$tool_timeout" \
        BENCH_TOOLS="${tools[*]}" BENCH_EXTRA="${extra[*]}" \
        bash -c 'set -u; work=$BENCH_WORK runs=$BENCH_RUNS bin=$BENCH_BIN format=$BENCH_FORMAT
            baseline=$BENCH_BASELINE tool_timeout=$BENCH_TIMEOUT
            read -ra tools <<<"$BENCH_TOOLS"; read -ra extra <<<"$BENCH_EXTRA"; measure'
    report "$n" "$p"
    stop_loadgen
done
