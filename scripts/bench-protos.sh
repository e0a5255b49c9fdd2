#!/usr/bin/env bash
# Benchmark protocol filters: `sockscope list --udp`, `--unix` and `--tcp` against
# `list` on U bound UDP and X unix sockets (scripts/loadgen.py, P processes), in a
# private network namespace this script creates and deletes. See the README, Performance.
#
# Also `list --pid W` of one worker W (its share of the sockets).
#
#   scripts/bench-protos.sh [--udp U] [--unix X] [--procs P] [--runs R]
#                           [--source proc|netlink] [--bin PATH] [--baseline PATH]
#                           [--no-build]
#
# Needs root (ip netns), GNU time, python3.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench-protos: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
udp=100000
unix=100000
procs=20         # 10k fds each at the defaults: under a 20,000 fd hard limit
runs=5
bin="$repo/target/release/sockscope"
baseline=""
build=1
source_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --udp) udp=${2:?}; shift 2 ;;
        --unix) unix=${2:?}; shift 2 ;;
        --procs) procs=${2:?}; shift 2 ;;
        --runs) runs=${2:?}; shift 2 ;;
        --source) source_args=(--source "${2:?}"); shift 2 ;;
        --bin) bin=${2:?}; build=0; shift 2 ;;
        --baseline) baseline=${2:?}; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for n in "$udp" "$unix" "$procs" "$runs"; do
    [[ $n =~ ^[0-9]+$ ]] || die "counts must be numbers, got '$n'"
done
[ "$runs" -ge 1 ] && [ "$runs" -le 99 ] || die "--runs must be 1..99"
[ "$procs" -ge 1 ] || die "--procs must be at least 1"
[ $((udp + unix)) -ge 1 ] || die "nothing to hold: give --udp or --unix"
[ "$(id -u)" = 0 ] || die "needs root (for ip netns)"
for tool in ip python3; do command -v $tool >/dev/null || die "needs $tool"; done
[ -x /usr/bin/time ] || die "needs GNU time (apt-get install time)"
if [ $build = 1 ]; then
    (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[ -x "$bin" ] || die "no sockscope binary at $bin"
[ -z "$baseline" ] || [ -x "$baseline" ] || die "no baseline binary at $baseline"

name=bench-protos
# shellcheck source=scripts/bench-ns.sh
source "$repo/scripts/bench-ns.sh"

echo "bench-protos: $(nproc) CPUs, kernel $(uname -r), $("$bin" --version 2>/dev/null)" >&2
echo "bench-protos: holding $udp UDP and $unix unix sockets in $procs processes..." >&2
start_loadgen 600 --sockets 0 --udp "$udp" --unix "$unix" --procs "$procs"

# Every row lists the same sockets whatever the binary; a count that differs is a bug.
# --pid of one worker: its sockets, with every holder, which takes every process's fds.
worker=$(awk '{ print $1 }' "$work/ready")
filters=("" --udp --unix --tcp "--pid=$worker")
label() { echo "list ${1:---json}${1:+ --json}"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }

# time_one NAME BIN FILTER: one `list`, output counted; "NAME FILTER WALL CPU ROWS USER SYS"
# to samples. User time is the tables' parsing, the join and the output; system time
# mostly the fd walk, which every row shares.
time_one() {
    local name=$1 bin=$2 filter=$3 t0 t1 args=(list --json "${source_args[@]}")
    [ -z "$filter" ] || args+=("$filter")
    t0=$EPOCHREALTIME
    inns /usr/bin/time -f '%U %S' -o "$work/cpu" "$bin" "${args[@]}" >"$work/out" \
        2>"$work/err" || die "$name ${args[*]} failed: $(head -c 300 "$work/err")"
    t1=$EPOCHREALTIME
    local rows
    rows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/out")
    echo "$name ${filter:-all} $(secs "$t0" "$t1") $(awk '{ print $1 + $2 }' "$work/cpu") $rows" \
        "$(cat "$work/cpu")" >>"$work/samples"
}

binaries=(sockscope)
[ -z "$baseline" ] || binaries+=(baseline)
: >"$work/samples"
for r in $(seq 0 "$runs"); do
    for filter in "${filters[@]}"; do
        time_one sockscope "$bin" "$filter"
        [ -z "$baseline" ] || time_one baseline "$baseline" "$filter"
    done
    [ "$r" != 0 ] || : >"$work/samples" # the warm-up round is dropped
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
    else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stat_of() { awk -v n="$1" -v f="$2" -v c="$3" '$1 == n && $2 == f { print $c }' \
    "$work/samples" | median; }

printf '\n%d UDP + %d unix sockets, %d processes, median of %d runs%s\n' \
    "$udp" "$unix" "$procs" "$runs" "${source_args[*]:+, ${source_args[*]}}"
printf '%-26s %8s %9s %9s %9s %9s %7s\n' "" rows "wall (s)" "CPU (s)" "user (s)" \
    "sys (s)" "/ list"
for name in "${binaries[@]}"; do
    [ ${#binaries[@]} = 1 ] || echo "$name:"
    all_wall=$(stat_of "$name" all 3)
    for filter in "${filters[@]}"; do
        f=${filter:-all}
        wall=$(stat_of "$name" "$f" 3)
        cpu=$(stat_of "$name" "$f" 4)
        rows=$(stat_of "$name" "$f" 5)
        user=$(stat_of "$name" "$f" 6)
        sys=$(stat_of "$name" "$f" 7)
        awk -v l="$(label "$filter")" -v r="$rows" -v w="$wall" -v c="$cpu" -v a="$all_wall" \
            -v u="$user" -v s="$sys" \
            'BEGIN { printf "%-26s %8d %9.3f %9.3f %9.3f %9.3f %6.2fx\n", l, r, w, c, u, s, w / a }'
    done
done
