#!/usr/bin/env bash
# Runs the test suites that touch real sockets, terminals and processes many times, with
# a busy loop on every core, and prints how often each passed. A flaky test shows up
# here long before it fails a CI run.
#
#   scripts/flake-hunt.sh [-n RUNS] [SUITE...]     (RUNS defaults to 30)
#
# SUITE is a file in tests/ without .rs; soak-short is tests/soak.rs in its short mode
# (its default; SOCKSCOPE_SOAK=long is the 3-minute leak check). Without suites, all of
# them below. CI=true is set, as in .ci/run, so a test that cannot run here fails
# instead of skipping. The logs of failed runs are kept in a temp dir, named at the
# end; the busy loops are killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=30
if [ "${1:-}" = "-n" ]; then
    runs=$2
    shift 2
fi
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
    suites=(race netlink_sources demo_tui tui_tmux soak-short list_real
        doctor demo_headless demo_echo demo_machine netlink_peers sources_fallback
        sources_netns tui_resize tui_real_peer track_rates)
fi

export CI=true
logs=$(mktemp -d /tmp/sockscope-flake-hunt.XXXXXX)
burners=()
stop_burners() {
    for pid in "${burners[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap stop_burners EXIT
trap 'exit 130' INT TERM # through the EXIT trap

# Build once; `cargo test --no-run` names each test binary.
declare -A binary
while read -r name path; do
    binary[$name]=$path
done < <(cargo test --no-run 2>&1 | sed -n 's/.*Executable tests\/\(.*\)\.rs (\(.*\))/\1 \2/p')

for suite in "${suites[@]}"; do
    file=${suite%-short}
    if [ -z "${binary[$file]:-}" ]; then
        echo "flake-hunt: no test suite $suite (a file tests/$file.rs)" >&2
        exit 2
    fi
done

# What test runs leave behind when they do not clean up; only new ones count (other
# checkouts on this machine may run older tests meanwhile).
leftovers() {
    ls -d /run/netns/sockscope-test-* /tmp/sockscope-tmux-* /tmp/sockscope-demo-* \
        /tmp/tmux-"$(id -u)"/sockscope-test-* 2>/dev/null | sort || true
}
before=$(leftovers)

for _ in $(seq "$(nproc)"); do
    (while :; do :; done) &
    burners+=($!)
done

declare -A passed
start=$(date +%s)
for run in $(seq "$runs"); do
    for suite in "${suites[@]}"; do
        file=${suite%-short}
        log="$logs/$suite.$run.log"
        # From the package root, as cargo test runs it; the soak short (its default).
        if env -u SOCKSCOPE_SOAK -u SOCKSCOPE_SOAK_SECS \
            timeout 600 "${binary[$file]}" >"$log" 2>&1; then
            passed[$suite]=$((${passed[$suite]:-0} + 1))
            rm -f "$log"
        else
            echo "run $run: $suite FAILED: $(grep -m1 -A1 'panicked at' "$log" | tail -1 | cut -c1-160)"
        fi
    done
    echo "run $run of $runs done ($(($(date +%s) - start)) s)"
done

echo
printf '%-18s %s\n' suite passed
for suite in "${suites[@]}"; do
    printf '%-18s %s/%s\n' "$suite" "${passed[$suite]:-0}" "$runs"
done
echo "under load: $(nproc) busy loops; $(($(date +%s) - start)) s in all"

left=$(comm -13 <(echo "$before") <(leftovers) | tr '\n' ' ')
echo "left behind meanwhile (by these runs, or by others running on this machine): ${left:-nothing}"
if ls "$logs"/*.log >/dev/null 2>&1; then
    echo "logs of the failed runs: $logs"
else
    rmdir "$logs"
fi
