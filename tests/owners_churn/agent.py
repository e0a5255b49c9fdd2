#!/usr/bin/env python3
"""Socket churn for tests/owners_churn.rs: real processes opening, closing, passing
(SCM_RIGHTS), dup'ing and forking sockets, in steps the test drives.

    agent.py IP SEED STEPS

A controller forks WORKERS workers, each with a unix seqpacket pair to it (EOF when the controller goes). Each step the
controller has the workers do a few random operations (seeded: the same SEED repeats the
same run), prints "mid" and goes on with more at once (the test refreshes meanwhile),
then prints "ready PID..." (every process of ours) and waits for "go" on stdin before
the next step: at that quiet moment the test compares its snapshots. After the last step
it prints "done" and everything exits. Every inet socket is on IP, the test's own
loopback address. Stdlib only; every loop is bounded; EOF on stdin ends the run.
"""

import os
import random
import socket
import sys

WORKERS = 6
OPS_PER_HALF = 3


def worker(ip, ctl, rng_seed):
    rng = random.Random(rng_seed)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((ip, 0))
    listener.listen(64)
    held = []  # fd numbers of the sockets this worker holds
    forks = []  # (pid, write end of the pipe that keeps it alive)

    def new_udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, 0))
        return s.detach()

    def pick():
        return rng.choice(held) if held else None

    while True:
        msg, fds, _, _ = socket.recv_fds(ctl, 256, 4)
        op = msg.decode()
        reply = b"ok"
        if op == "quit" or not op:
            break
        elif op == "udp":
            held.append(new_udp())
        elif op == "tcp":
            c = socket.create_connection(listener.getsockname())
            a, _ = listener.accept()
            held += [c.detach(), a.detach()]
        elif op == "pair":
            x, y = socket.socketpair()
            held += [x.detach(), y.detach()]
        elif op == "close" and held:
            fd = pick()
            held.remove(fd)
            os.close(fd)
        elif op == "dup" and held:
            held.append(os.dup(pick()))
        elif op == "duphigh" and held:
            # Far above the lowest free number, where no probe of the kept fd table
            # looks: its count says one is missing, so the directory is listed.
            high = 900 + rng.randrange(100)
            if high not in held:
                held.append(os.dup2(pick(), high))
        elif op == "swap" and held:
            # Close one and open another at once: the count stays, the fd number is
            # reused (lowest free), the inode is new.
            fd = pick()
            held.remove(fd)
            os.close(fd)
            held.append(new_udp())
        elif op in ("give", "give-close") and held:
            fd = pick()
            socket.send_fds(ctl, [b"fd"], [fd])
            if op == "give-close":
                held.remove(fd)
                os.close(fd)
            continue  # the controller's reply is the fd itself
        elif op == "take":
            held += fds
        elif op == "fork":
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                # The child keeps every socket it inherited until the pipe closes.
                os.close(w)
                for _, other in forks:
                    os.close(other)
                os.read(r, 1)
                os._exit(0)
            os.close(r)
            forks.append((pid, w))
        elif op == "endfork" and forks:
            pid, w = forks.pop(rng.randrange(len(forks)))
            os.close(w)
            os.waitpid(pid, 0)
        elif op == "pids":
            reply = " ".join(str(p) for p, _ in forks).encode() or b"-"
        else:
            reply = b"nothing"  # an op with nothing to work on
        for fd in fds if op != "take" else []:
            os.close(fd)
        ctl.send(reply)
    for pid, w in forks:
        os.close(w)
        os.waitpid(pid, 0)
    os._exit(0)


OPS = ["udp", "tcp", "pair", "close", "close", "dup", "duphigh", "swap", "give",
       "give-close", "fork", "endfork"]


def main():
    ip, seed, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    ctls, pids = [], []
    for k in range(WORKERS):
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            mine.close()
            for c in ctls:
                c.close()
            worker(ip, theirs, seed * 100 + k)
        theirs.close()
        ctls.append(mine)
        pids.append(pid)

    def ask(k, op, fds=()):
        socket.send_fds(ctls[k], [op.encode()], list(fds))
        msg, got, _, _ = socket.recv_fds(ctls[k], 256, 4)
        if op != "pids":
            # The run's log, on stderr: the test shows it when it fails.
            print(f"agent: worker {pids[k]}: {op} -> {msg.decode()}", file=sys.stderr)
        return msg, got

    def some_ops(free):
        # A worker takes part in one op per step at most, so between two quiet moments
        # no two of its ops cancel out in its fd count (see the test's comment). The
        # refresh at "mid" runs while the second half goes on, so it separates nothing.
        for _ in range(OPS_PER_HALF):
            if not free:
                break
            k = free.pop()
            op = rng.choice(OPS)
            if op.startswith("give"):
                if not free:
                    continue
                to = free.pop()
                msg, got = ask(k, op)
                if got:
                    # Held here a moment, then by another worker; our copy closes.
                    ask(to, "take", got)
                    for fd in got:
                        os.close(fd)
            else:
                ask(k, op)

    try:
        for _ in range(steps):
            free = list(range(WORKERS))
            rng.shuffle(free)
            some_ops(free)
            print("agent: mid", file=sys.stderr)
            print("mid", flush=True)
            some_ops(free)
            ours = [os.getpid()] + pids
            for k in range(WORKERS):
                more = ask(k, "pids")[0].decode()
                ours += [int(p) for p in more.split() if p != "-"]
            print("agent: ready", file=sys.stderr)
            print("ready " + " ".join(map(str, ours)), flush=True)
            if sys.stdin.readline().strip() != "go":
                break
        print("done", flush=True)
    finally:
        for k in range(WORKERS):
            try:
                ctls[k].send(b"quit")
            except OSError:
                pass
        for pid in pids:
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
