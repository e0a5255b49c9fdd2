#!/usr/bin/env bash
# Regenerates the README's pictures from a real run of `sockscope demo` (its own
# loopback servers and clients: a listener with a full backlog, a CLOSE_WAIT leak,
# TIME_WAIT, UDP and unix echo servers, traffic) in a 120x40 tmux pane, captured with
# its colours and drawn to PNGs:
#   assets/tui.png      the socket table
#   assets/details.png  the details pane of the CLOSE_WAIT leak (/close-wait, Enter)
# Needs: tmux, python3 with Pillow (apt install python3-pil, or pip install pillow),
# DejaVu fonts. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
cols=120 rows=40 python=${PYTHON:-python3}
tmux="tmux -L sockscope-shot-$$ -f /dev/null"
cargo build --release --quiet

trap '$tmux kill-server 2>/dev/null || true' EXIT
$tmux new-session -d -s shot -x $cols -y $rows "target/release/sockscope demo"
# Enough refreshes (every 500 ms) for rates, sparklines, events and the findings.
sleep 12

shot() { # OUT.png: the pane as it is now
    $tmux capture-pane -e -p -N -t shot > target/tui-capture.txt
    "$python" scripts/ansi_to_png.py target/tui-capture.txt "$1" $cols $rows
    echo "wrote $1"
}
$tmux send-keys -t shot j j j j j j j j
sleep 0.6
shot assets/tui.png

# The demo's leak, found with the filter bar, and its details: tcp_info, what the
# state means, the kernel's timer, its path on the state machine.
$tmux send-keys -t shot / close-wait Enter
sleep 0.8
$tmux send-keys -t shot Enter
sleep 2
shot assets/details.png
$tmux send-keys -t shot q
