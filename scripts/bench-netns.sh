#!/usr/bin/env bash
# Benchmark `--all-netns`: N namespaces holding S loopback TCP sockets each (one
# scripts/loadgen.py worker per namespace) against one namespace holding N*S sockets
# (N workers), `list --json` with owners, median of R runs. Creates and deletes its
# own namespaces. See the README, Performance.
#
#   scripts/bench-netns.sh [NAMESPACES [SOCKETS_EACH [RUNS]]]   (default 50 2000 3)
#
# Needs root (ip netns), python3, GNU time; BIN=path picks the binary (default release).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-50}
each=${2:-2000}
runs=${3:-3}
bin=${BIN:-$repo/target/release/sockscope}
[[ $count =~ ^[1-9][0-9]{0,2}$ && $each =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9]$ ]] ||
    { echo "usage: $0 [NAMESPACES<=999 [SOCKETS_EACH [RUNS<=9]]]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-netns: needs root (ip netns)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench-netns: no $bin (cargo build --release)" >&2; exit 1; }

prefix=sockscope-bnetns-$$
work=$(mktemp -d)
pids=()
spaces=()
stop() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
    for ns in "${spaces[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
    spaces=()
}
trap 'stop; rm -rf "$work"' EXIT

# Starts loadgen in a new namespace: name, sockets, workers.
load() {
    local ns=$1
    ip netns add "$ns"
    spaces+=("$ns")
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" python3 "$repo/scripts/loadgen.py" --sockets "$2" --procs "$3" \
        --ready-file "$work/$ns.ready" </dev/null >"$work/$ns.out" 2>&1 &
    pids+=($!)
}

wait_ready() {
    for _ in $(seq 3000); do
        local missing=0
        for ns in "${spaces[@]}"; do [ -e "$work/$ns.ready" ] || missing=1; done
        [ $missing = 0 ] && return 0
        sleep 0.1
    done
    echo "bench-netns: load generators not ready after 300 s" >&2
    exit 1
}

# Median wall seconds, peak RSS, socket count and median CPU seconds (user + system:
# what a loaded machine inflates least) of R runs of the command given.
measure() {
    local times=() rss=() cpus=() sockets=0
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >"$work/out.json" 2>/dev/null
        read -r t m u s <"$work/time"
        times+=("$t"); rss+=("$m"); cpus+=("$(python3 -c "print(f'{$u + $s:.2f}')")")
    done
    sockets=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$work/out.json")
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    local peak
    peak=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
    local cpu
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    echo "$median $peak $sockets $cpu"
}

for i in $(seq "$count"); do load "$prefix-$i" "$each" 1; done
wait_ready
read -r many_t many_m many_n many_c < <(measure "$bin" list --json --all-netns)
stop

load "$prefix-one" $((count * each)) "$count"
wait_ready
read -r one_t one_m one_n one_c < <(measure ip netns exec "$prefix-one" "$bin" list --json)
stop

printf '%-34s %8s %8s %10s %9s\n' case seconds "cpu s" "peak KiB" sockets
printf '%-34s %8s %8s %10s %9s\n' "one namespace, $((count * each)) sockets" "$one_t" "$one_c" "$one_m" "$one_n"
printf '%-34s %8s %8s %10s %9s\n' "--all-netns, $count x $each" "$many_t" "$many_c" "$many_m" "$many_n"
python3 -c "import sys; a, b, c, d = map(float, sys.argv[1:]); print(f'ratio {b / a:.2f}x (cpu {d / c:.2f}x)')" \
    "$one_t" "$many_t" "$one_c" "$many_c"
