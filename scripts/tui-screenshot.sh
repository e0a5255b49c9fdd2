#!/usr/bin/env bash
# Regenerates assets/tui.png from a real run: a small Python "service" holds loopback
# sockets in several states (listener, connections opening and closing, a CLOSE_WAIT
# leak, unread data, SYN_SENT against a full backlog), `sockscope --pid` watches it in
# tmux, and the pane, captured with its colours, is drawn to a PNG.
# Needs: tmux, python3 with Pillow (pip install pillow), DejaVu fonts.
set -euo pipefail
cd "$(dirname "$0")/.."
cols=124 rows=32 tmux="tmux -L sockscope-shot -f /dev/null"
cargo build --release --quiet

python3 - <<'PY' &
import socket, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(128)
full = socket.socket(); full.bind(("127.0.0.1", 0)); full.listen(0)  # never accepts
stuck = []
for _ in range(3):
    s = socket.socket(); s.setblocking(False); s.connect_ex(full.getsockname()); stuck.append(s)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
pair = socket.socketpair()
conns, leaked = [], []
def connect():
    c = socket.create_connection(srv.getsockname()); s, _ = srv.accept()
    return c, s
for i in range(2):  # the client hung up, the server never closed: CLOSE_WAIT
    c, s = connect(); c.close(); leaked.append(s)
end = time.time() + 40
while time.time() < end:
    c, s = connect()
    c.send(b"GET / HTTP/1.1\r\n" * (1 + len(conns) * 40))  # unread yet: Recv-Q
    conns.append((c, s))
    if len(conns) > 5:
        c, s = conns.pop(0)
        s.recv(1 << 20); s.close(); c.close()  # read, then the server closes: TIME_WAIT
    time.sleep(0.7)
PY
py=$!
trap '$tmux kill-server 2>/dev/null || true; kill $py 2>/dev/null || true' EXIT
sleep 1
$tmux new-session -d -s shot -x $cols -y $rows "target/release/sockscope --pid $py --interval 500"
sleep 12
$tmux send-keys -t shot j j j j j j j j j
sleep 0.3
$tmux capture-pane -e -p -N -t shot > target/tui-capture.txt
python3 scripts/ansi_to_png.py target/tui-capture.txt assets/tui.png $cols $rows
echo "wrote assets/tui.png"
