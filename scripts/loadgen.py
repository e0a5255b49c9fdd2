#!/usr/bin/env python3
"""Load generator for scripts/bench.sh: holds many loopback TCP connections open.

`loadgen.py --sockets N --procs P` forks P worker processes that together hold N
ESTABLISHED TCP sockets: N/2 connections over 127.0.0.1, each worker holding both the
client end and the server (accepted) end of its own connections, plus its listeners.
Every worker listens on its own ports, at most PER_LISTENER connections per listener
port, so no destination runs out of ephemeral source ports (~28k by default).

`--udp U` and `--unix X` add U bound UDP sockets (on 127.1.k.1, ports 2000 and up:
60,000 an address, so no ephemeral range runs out) and X unix sockets (X/2 socketpairs),
spread over the same workers; `--sockets 0` then opens no TCP at all.

When every worker is ready it prints "ready" (and touches --ready-file), then holds the
sockets until it gets SIGTERM/SIGINT or stdin reaches EOF. Workers exit on their own when
the parent dies (they block reading a pipe only the parent holds open), so nothing leaks.

Python 3 standard library only. Meant to run inside a private network namespace
(bench.sh does that); it only ever touches 127.0.0.1.
"""

import argparse
import os
import random
import resource
import select
import signal
import socket
import struct
import sys
import time

PER_LISTENER = 10_000
HOST = "127.0.0.1"


UDP_PER_ADDRESS = 60_000
UDP_FIRST_PORT = 2000


def worker(conns, life_r, status_w, udp=range(0), unix_pairs=0, churn=0.0, seed=0):
    """Opens `conns` connections to listeners of our own and holds both ends; binds
    the UDP sockets numbered `udp` and opens `unix_pairs` socketpairs. With `churn`,
    replaces that many connections a second (closed with a reset, so no TIME_WAIT
    piles up; a new one opened to the same listener), ten times a second."""
    held = []
    pairs = []  # (index of the client end in held, listener socket)
    try:
        need = 2 * conns + conns // PER_LISTENER + len(udp) + 2 * unix_pairs + 64
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
        left = conns
        listeners = []
        while left > 0:
            batch = min(left, PER_LISTENER)
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.bind((HOST, 0))
            lst.listen(1024)
            addr = lst.getsockname()
            for _ in range(batch):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.connect(addr)  # completes at once on loopback
                s, _ = lst.accept()
                pairs.append((len(held), lst))
                held.append(c.detach())
                held.append(s.detach())
            if not churn:
                held.append(lst.detach())
            else:
                listeners.append(lst)
            left -= batch
        for n in udp:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            k, port = divmod(n, UDP_PER_ADDRESS)
            u.bind((f"127.1.{k}.1", UDP_FIRST_PORT + port))
            held.append(u.detach())
        for _ in range(unix_pairs):
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            held.append(a.detach())
            held.append(b.detach())
        os.write(status_w, b"+")
    except Exception as e:  # report any failure to the parent, one line
        os.write(status_w, f"!{e}\n".encode())
        os._exit(1)
    # Hold everything until the parent goes away (EOF on the life pipe).
    rng = random.Random(seed)
    due, last = 0.0, time.monotonic()
    linger = struct.pack("ii", 1, 0)
    while True:
        try:
            r, _, _ = select.select([life_r], [], [], 0.1 if churn else None)
            if r and os.read(life_r, 1) == b"":
                break
        except InterruptedError:
            continue
        now = time.monotonic()
        due, last = due + (now - last) * churn, now
        while due >= 1 and pairs:
            due -= 1
            k = rng.randrange(len(pairs))
            at, lst = pairs[k]
            c = socket.socket(fileno=held[at])
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            c.close()
            os.close(held[at + 1])
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.connect(lst.getsockname())
            s, _ = lst.accept()
            held[at], held[at + 1] = c.detach(), s.detach()
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sockets", type=int, required=True,
                    help="ESTABLISHED TCP sockets to hold (two per connection)")
    ap.add_argument("--procs", type=int, default=1, help="worker processes")
    ap.add_argument("--udp", type=int, default=0, help="bound UDP sockets to hold")
    ap.add_argument("--unix", type=int, default=0,
                    help="unix sockets to hold (socketpairs, two sockets each)")
    ap.add_argument("--ready-file", help="created once every socket is established")
    ap.add_argument("--churn", type=float, default=0.0,
                    help="sockets replaced a second over all workers, once ready "
                         "(each replaced connection is two: 1000 at 100k is 1%%/s)")
    ap.add_argument("--setup-timeout", type=float, default=300.0,
                    help="seconds to wait for the workers before giving up")
    args = ap.parse_args()
    tcp = args.sockets > 0
    if args.udp < 0 or args.unix < 0 or args.udp >= 256 * UDP_PER_ADDRESS:
        sys.exit("loadgen: --udp and --unix take 0 or more (--udp below 15,360,000)")
    if tcp and (args.sockets < 2 or args.procs < 1 or args.procs > args.sockets // 2):
        sys.exit("loadgen: need --sockets >= 2 and 1 <= --procs <= sockets/2")
    if not tcp and (args.sockets < 0 or args.procs < 1 or args.udp + args.unix == 0):
        sys.exit("loadgen: with --sockets 0, need --udp or --unix, and --procs >= 1")

    conns = args.sockets // 2
    life_r, life_w = os.pipe()
    status_r, status_w = os.pipe()
    children = []

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for k in range(args.procs):
            share = conns // args.procs + (1 if k < conns % args.procs else 0)
            udp = range(args.udp * k // args.procs, args.udp * (k + 1) // args.procs)
            pairs = args.unix // 2
            unix_pairs = pairs // args.procs + (1 if k < pairs % args.procs else 0)
            pid = os.fork()
            if pid == 0:
                # Children ignore Ctrl-C; they go when the parent does.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.close(life_w)
                os.close(status_r)
                worker(share, life_r, status_w, udp, unix_pairs, args.churn / 2 / args.procs, k)
            children.append(pid)
        os.close(life_r)
        os.close(status_w)

        ready = 0
        buf = b""
        deadline = time.monotonic() + args.setup_timeout
        while ready < args.procs:
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit(f"loadgen: only {ready}/{args.procs} workers ready "
                         f"after {args.setup_timeout:.0f}s")
            r, _, _ = select.select([status_r], [], [], left)
            if not r:
                continue
            chunk = os.read(status_r, 4096)
            if not chunk:
                sys.exit("loadgen: a worker died before it was ready")
            buf += chunk
            ready += chunk.count(b"+")
            if b"!" in buf:
                msg = buf[buf.index(b"!") + 1:].split(b"\n")[0].decode(errors="replace")
                sys.exit(f"loadgen: a worker failed: {msg}")

        print(f"ready: {args.sockets // 2 * 2} TCP, {args.udp} UDP, "
              f"{args.unix // 2 * 2} unix sockets in {args.procs} processes "
              f"(pids {' '.join(map(str, children))})", flush=True)
        if args.ready_file:
            with open(args.ready_file, "w") as f:
                f.write(" ".join(map(str, children)) + "\n")
        # Hold until told to stop, or until stdin closes.
        while True:
            try:
                if os.read(0, 4096) == b"":
                    # stdin is /dev/null or closed: wait for a signal instead.
                    signal.pause()
            except InterruptedError:
                continue
    finally:
        # Closing the life pipe (also done by the kernel if we die) releases the workers.
        try:
            os.close(life_w)
        except OSError:
            pass
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


if __name__ == "__main__":
    main()
