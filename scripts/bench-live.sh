#!/usr/bin/env bash
# Benchmark: the real live view's CPU and memory. N loopback TCP sockets held by P
# processes (scripts/loadgen.py) in a private network namespace this script creates and
# deletes, PCT of them replaced a second; `sockscope` runs in a tmux window (120x40)
# inside that namespace at its default interval, it and the load in a PID namespace of
# their own (so it walks no other process's fds). After a warm-up, its CPU (utime+stime
# of the whole process, every thread) and RSS are sampled for a while. See the README,
# Performance.
#
#   scripts/bench-live.sh [--sockets N] [--procs P] [--churn PCT] [--warmup S]
#                         [--measure S] [--bin PATH] [--against PATH]
#                         [--heaptrack FILE] [-- EXTRA SOCKSCOPE ARGS]
#
# Prints: % of one core over the measured span, RSS at its start, end and peak, and the
# header's interval (to show whether the view slowed itself down). With --against, a
# second view (another build) runs beside the first on the same load over the same
# span, and its figures follow: on a machine whose speed moves between runs by more
# than a change saves, the pair compares where two runs cannot. With --heaptrack,
# the view runs under heaptrack, which writes FILE.zst (read it with heaptrack_print:
# the peak heap and who holds it); its CPU and RSS figures are then heaptrack's too.
# Needs root (ip netns, unshare), tmux, python3 (and heaptrack for --heaptrack).
set -euo pipefail

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench-live: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
sockets=100000
procs=10
churn=1
warmup=30
measure=60
bin="$repo/target/release/sockscope"
build=1
heaptrack=""
against=""
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --sockets) sockets=${2:?}; shift 2 ;;
        --procs) procs=${2:?}; shift 2 ;;
        --churn) churn=${2:?}; shift 2 ;;
        --warmup) warmup=${2:?}; shift 2 ;;
        --measure) measure=${2:?}; shift 2 ;;
        --bin) bin=${2:?}; build=0; shift 2 ;;
        --against) against=${2:?}; shift 2 ;;
        --heaptrack) heaptrack=${2:?}; shift 2 ;;
        --) shift; extra+=("$@"); break ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[ "$(id -u)" = 0 ] || die "needs root (for ip netns)"
for tool in tmux python3 ip unshare ${heaptrack:+heaptrack}; do
    command -v $tool >/dev/null || die "needs $tool"
done
[ $build = 0 ] || (cd "$repo" && cargo build --release -q) || die "cargo build failed"

name=bench-live
# shellcheck source=scripts/bench-ns.sh
source "$repo/scripts/bench-ns.sh"
tmux_sock="$work/tmux"
bench_cleanup() {
    tmux -S "$work/tmux-against" kill-server 2>/dev/null || true
    tmux -S "$tmux_sock" kill-server 2>/dev/null || true
}

# loadgen's --churn counts sockets a second (a replaced connection is two of them).
per_sec=$(awk -v n="$sockets" -v c="$churn" 'BEGIN { print n * c / 100 }')

# The load and the view share a private PID namespace (with its own /proc) as well as
# the network one: the view's fd walk then reads only the load's processes, not every
# process of the host (another bench's million sockets made the figures meaningless).
# Its first process is the shell below; when tmux goes, the kernel ends the rest.
cat >"$work/inner.sh" <<INNER
python3 "$repo/scripts/loadgen.py" --sockets $sockets --procs $procs --churn $per_sec \
    --ready-file "$work/ready" --setup-timeout 600 </dev/null >"$work/loadgen.out" 2>&1 &
for _ in \$(seq 6000); do [ -e "$work/ready" ] && break; sleep 0.1; done
${against:+tmux -S "$work/tmux-against" new-session -d -x 120 -y 40 "$against ${extra[*]:-}"}
${heaptrack:+heaptrack -o "$heaptrack"} "$bin" ${extra[*]:-}
sleep 600
INNER
tmux -S "$tmux_sock" new-session -d -x 120 -y 40 \
    "ip netns exec $ns unshare --pid --fork --mount-proc bash $work/inner.sh"
for _ in $(seq 6000); do
    [ -e "$work/ready" ] && break
    tmux -S "$tmux_sock" has-session 2>/dev/null || die "the bench's shell ended: $(cat "$work/loadgen.out" 2>/dev/null)"
    sleep 0.1
done
[ -e "$work/ready" ] || die "load generator not ready after 600s: $(cat "$work/loadgen.out")"
# The view's pid: the newest process running exactly PATH.
view_pid() {
    local pid=""
    for _ in $(seq 100); do
        pid=$(pgrep -f -n "^$1( |\$)" || true)
        [ -n "$pid" ] && break
        sleep 0.1
    done
    [ -n "$pid" ] || die "sockscope did not start: $1"
    echo "$pid"
}
pids=$(view_pid "$bin")
[ -z "$against" ] || pids="$pids $(view_pid "$against")"

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$1/status"; }
sleep "$warmup"
declare -A c0 r0 peak
for pid in $pids; do
    kill -0 "$pid" 2>/dev/null || die "sockscope exited during the warm-up"
    c0[$pid]=$(cpu "$pid"); r0[$pid]=$(rss "$pid"); peak[$pid]=${r0[$pid]}
done
t0=$EPOCHREALTIME
for _ in $(seq "$measure"); do
    sleep 1
    for pid in $pids; do
        r=$(rss "$pid"); [ "$r" -gt "${peak[$pid]}" ] && peak[$pid]=$r
    done
done
t1=$EPOCHREALTIME
echo "live view, $sockets sockets, $procs processes, $churn%/s churn, default interval"
for pid in $pids; do
    c1=$(cpu "$pid"); r1=$(rss "$pid")
    [ -z "$against" ] || echo "$(readlink "/proc/$pid/exe"):"
    awk -v c0="${c0[$pid]}" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" \
        -v r0="${r0[$pid]}" -v r1="$r1" -v pk="${peak[$pid]}" \
        'BEGIN {
            printf "CPU: %.1f%% of one core over %.0f s\n", 100 * (c1 - c0) / hz / (t1 - t0), t1 - t0
            printf "RSS: %d MB at the start, %d MB at the end, %d MB peak\n", r0, r1, pk
        }'
done
echo "header: $(tmux -S "$tmux_sock" capture-pane -p | head -1)"
