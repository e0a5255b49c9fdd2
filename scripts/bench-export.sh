#!/usr/bin/env bash
# Benchmark `sockscope export`: one scrape against one `sockscope list --json` on N
# loopback TCP sockets held by P processes (scripts/loadgen.py), in a private network
# namespace this script creates and deletes; then the exporter's RSS before and after
# S more scrapes. See the README, Export.
#
#   scripts/bench-export.sh [--sockets N] [--procs P] [--runs R] [--scrapes S]
#                           [--bin PATH] [--no-build]
#
# Needs root (ip netns), curl, GNU time, python3.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench-export: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
sockets=100000
procs=10
runs=5
scrapes=1000
bin="$repo/target/release/sockscope"
build=1
while [ $# -gt 0 ]; do
    case $1 in
        --sockets) sockets=${2:?}; shift 2 ;;
        --procs) procs=${2:?}; shift 2 ;;
        --runs) runs=${2:?}; shift 2 ;;
        --scrapes) scrapes=${2:?}; shift 2 ;;
        --bin) bin=${2:?}; build=0; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for n in "$sockets" "$procs" "$runs" "$scrapes"; do
    [[ $n =~ ^[0-9]+$ ]] || die "counts must be numbers, got '$n'"
done
[ "$runs" -ge 1 ] || die "--runs must be at least 1"
[ "$(id -u)" = 0 ] || die "needs root (for ip netns)"
for tool in ip curl python3; do command -v $tool >/dev/null || die "needs $tool"; done
[ -x /usr/bin/time ] || die "needs GNU time (apt-get install time)"
if [ $build = 1 ]; then
    (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[ -x "$bin" ] || die "no sockscope binary at $bin"

name=bench-export
# shellcheck source=scripts/bench-ns.sh
source "$repo/scripts/bench-ns.sh"
export_pid=""
# The exporter, stopped (and reaped, so bash reports no "Killed") before the namespace goes.
bench_cleanup() {
    [ -z "$export_pid" ] || { kill -KILL "$export_pid"; wait "$export_pid"; } 2>/dev/null || true
}

echo "bench-export: establishing $sockets sockets in $procs processes..." >&2
start_loadgen 600 --sockets "$sockets" --procs "$procs"

url=http://127.0.0.1:10155/metrics
# Not through inns: a function backgrounded is a subshell, and $! would be its pid.
ip netns exec "$ns" "$bin" export --scrape-timeout 120 2>"$work/export.err" &
export_pid=$! # ip netns exec execs the command: this is the exporter's pid
for _ in $(seq 100); do
    grep -q serving "$work/export.err" 2>/dev/null && break
    sleep 0.1
done
grep -q serving "$work/export.err" || die "export did not start: $(cat "$work/export.err")"

# Wall time is what a user waits for, but on a busy machine it measures the neighbours
# too; CPU time (user + system) is what each one costs. Both are recorded.
tck=$(getconf CLK_TCK)
cpu_of_export() { awk -v t="$tck" '{ printf "%.4f", ($14 + $15) / t }' "/proc/$export_pid/stat"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
# time_list: one `list --json`, output discarded: "list WALL CPU" to samples.
time_list() {
    local t0 t1
    t0=$EPOCHREALTIME
    inns /usr/bin/time -f '%U %S' -o "$work/cpu" "$bin" list --json >/dev/null
    t1=$EPOCHREALTIME
    echo "list $(secs "$t0" "$t1") $(awk '{ print $1 + $2 }' "$work/cpu")" >>"$work/samples"
}
# time_scrape: one GET /metrics: "scrape WALL CPU" (the exporter's CPU during it).
time_scrape() {
    local t0 t1 c0 c1
    c0=$(cpu_of_export)
    t0=$EPOCHREALTIME
    inns curl -sf -o /dev/null "$url"
    t1=$EPOCHREALTIME
    c1=$(cpu_of_export)
    echo "scrape $(secs "$t0" "$t1") $(secs "$c0" "$c1")" >>"$work/samples"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
    else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stat_of() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$work/samples" | median; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$export_pid/status"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "bench-export: timing list --json and a scrape, 1 warm-up + $runs runs each..." >&2
: >"$work/samples"
for r in $(seq 0 "$runs"); do
    time_list
    time_scrape
    if [ "$r" = 0 ]; then : >"$work/samples"; fi
done
printf '\n%d sockets, %d processes, median of %d alternating runs, load %s\n' \
    "$sockets" "$procs" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-24s %10s %10s\n' "" "wall (s)" "CPU (s)"
printf '%-24s %10.3f %10.3f\n' "sockscope list --json" "$(stat_of list 2)" "$(stat_of list 3)"
printf '%-24s %10.3f %10.3f\n' "GET /metrics (export)" "$(stat_of scrape 2)" "$(stat_of scrape 3)"
printf '%-24s %9sx %9sx\n' "scrape / list" "$(ratio "$(stat_of scrape 2)" "$(stat_of list 2)")" \
    "$(ratio "$(stat_of scrape 3)" "$(stat_of list 3)")"

if [ "$scrapes" -gt 0 ]; then
    mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
    before=$(rss_kb)
    echo "bench-export: $scrapes more scrapes (each leaves a TIME_WAIT: some churn)..." >&2
    done_n=0
    while [ "$done_n" -lt "$scrapes" ]; do
        n=$((scrapes - done_n < 100 ? scrapes - done_n : 100))
        inns bash -c 'for _ in $(seq "$1"); do curl -sf -o /dev/null "$2" || exit 1; done' _ \
            "$n" "$url" || die "a scrape failed: $(tail -3 "$work/export.err")"
        done_n=$((done_n + n))
        echo "bench-export: after $done_n scrapes: RSS $(mb "$(rss_kb)") MB" >&2
    done
    after=$(rss_kb)
    printf '%-28s %8s MB\n' "export RSS before" "$(mb "$before")"
    printf '%-28s %8s MB  (after %d scrapes)\n' "export RSS after" "$(mb "$after")" "$scrapes"
fi
