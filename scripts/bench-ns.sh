# shellcheck shell=bash
# Sourced by the bench scripts (bench.sh, bench-export.sh, bench-protos.sh,
# bench-live.sh): the private network namespace the load lives in, a work dir, the
# cleanup on every exit path, and the load generator started and waited for.
#
# Before sourcing: `name` (the script's name, for messages and the namespace's), `repo`,
# and `die`. After: $ns, $work, inns, start_loadgen, stop_loadgen. A script with more to
# undo (a tmux server) defines `bench_cleanup`, which cleanup calls first.

ns="sockscope-$name-$$"
work=$(mktemp -d "/tmp/sockscope-$name.XXXXXX")
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
    if declare -F bench_cleanup >/dev/null; then bench_cleanup; fi
    stop_loadgen
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "$name: interrupted" >&2; exit 130' INT TERM

ip netns add "$ns" || die "ip netns add $ns failed"
ip -n "$ns" link set lo up
# More ephemeral ports and a deeper accept queue; only inside our namespace.
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
    net.core.somaxconn=4096 >/dev/null || true
inns() { ip netns exec "$ns" "$@"; }

# start_loadgen TIMEOUT LOADGEN-ARGS...: scripts/loadgen.py in the namespace, waited for
# (up to TIMEOUT seconds) until it has every socket; its ready file is $work/ready.
start_loadgen() {
    local timeout=$1
    shift
    rm -f "$work/ready"
    ip netns exec "$ns" python3 "$repo/scripts/loadgen.py" "$@" --ready-file "$work/ready" \
        --setup-timeout "$timeout" </dev/null >"$work/loadgen.out" 2>&1 &
    loadgen_pid=$!
    for _ in $(seq $((timeout * 10 + 50))); do
        [ -e "$work/ready" ] && return 0
        kill -0 "$loadgen_pid" 2>/dev/null || die "load generator failed: $(cat "$work/loadgen.out")"
        sleep 0.1
    done
    die "load generator not ready after ${timeout}s"
}
