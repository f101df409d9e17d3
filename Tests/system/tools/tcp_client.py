#!/usr/bin/python3
"""Kernel-socket TCP clients for the system tests (run inside netns mtcp-c).

Each mode prints one JSON object as its last line of stdout and exits 0 unless the
tool itself broke; the test decides what the numbers mean. Every socket has a
timeout, so nothing here hangs for longer than --timeout seconds per operation.

  echo      HOST PORT --size N [--seed S] [--pause-reading SECONDS]
                      [--hold BYTES --rcvbuf BYTES]
            One connection: a writer thread sends N seeded random bytes and then
            shuts down its write side (FIN); the main thread reads to EOF, starting
            only after --pause-reading seconds (the writer blocks meanwhile when the
            windows close). With --hold it stops reading while the last BYTES of
            the echo are outstanding until our FIN is out, so that (with a small
            --rcvbuf) the server must send them in CLOSE-WAIT. Reports SHA-256 of
            both directions and the echo still pending at the server at our FIN.
  many      HOST PORT --sequential N --concurrent M --size N
            N connections one after another, then M at once in threads; each sends
            a distinct message, half-closes and reads the echo to EOF.
  discard   HOST PORT --size N
            Sends N bytes, half-closes and waits for the server's FIN (recv == b'').
  refused   HOST PORT
            One connect(); reports the errno name and how long it took.
  abort     HOST PORT --size N
            Sends N bytes, reads some of the echo, closes with SO_LINGER {1, 0}
            (an RST instead of a FIN), then checks a new echo connection works.
"""

import argparse
import errno
import fcntl
import hashlib
import json
import random
import socket
import struct
import sys
import termios
import threading
import time


def payload(size, seed):
    return random.Random(seed).randbytes(size)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def connect(host, port, timeout):
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_to_eof(sock, limit=None):
    chunks, total = [], 0
    while data := sock.recv(1 << 20):
        chunks.append(data)
        total += len(data)
        if limit is not None and total > limit:
            break
    return b"".join(chunks)


def echo_once(host, port, data, timeout, pause_reading=0.0, hold=0, rcvbuf=0):
    """Sends `data` from a writer thread, then FIN; reads to EOF in this thread.

    pause_reading: start reading only after so many seconds.
    hold: stop reading when `hold` bytes of the echo are still to come, until our
    FIN is out; with a small `rcvbuf` (SO_RCVBUF) our closed window then keeps the
    rest of the echo at the server, which must send it after our FIN. The writer
    reports `pending_at_fin`: echo bytes neither read nor queued in our socket
    (FIONREAD) right after shutdown(SHUT_WR)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect((host, port))
    progress = {"sent": 0, "error": None, "pending_at_fin": None}
    state = {"received": 0}
    fin_sent = threading.Event()

    def writer():
        try:
            view = memoryview(data)
            while progress["sent"] < len(data):
                progress["sent"] += sock.send(view[progress["sent"]:progress["sent"] + 65536])
            sock.shutdown(socket.SHUT_WR)
            queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
            progress["pending_at_fin"] = len(data) - state["received"] - queued
        except OSError as error:
            progress["error"] = f"{type(error).__name__}: {error}"
        finally:
            fin_sent.set()

    start = time.monotonic()
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    sent_before_reading = None
    if pause_reading:
        time.sleep(pause_reading)
        sent_before_reading = progress["sent"]
    chunks, after_fin, read_error = [], 0, None
    try:
        while True:
            if hold and not fin_sent.is_set() and len(data) - state["received"] <= hold:
                fin_sent.wait(timeout)
            limit = 1 << 20
            if hold and not fin_sent.is_set():
                limit = max(1, len(data) - hold - state["received"])
            chunk = sock.recv(limit)
            if not chunk:
                break
            chunks.append(chunk)
            state["received"] += len(chunk)
            if fin_sent.is_set():
                after_fin += len(chunk)
    except OSError as error:
        read_error = f"{type(error).__name__}: {error}"
    thread.join(timeout)
    sock.close()
    received = b"".join(chunks)
    return {"size": len(data), "sent": progress["sent"], "received": len(received),
            "sha_sent": sha(data), "sha_received": sha(received), "equal": received == data,
            "received_after_fin": after_fin, "pending_at_fin": progress["pending_at_fin"],
            "sent_before_reading": sent_before_reading,
            "write_error": progress["error"], "read_error": read_error,
            "seconds": round(time.monotonic() - start, 3)}


def mode_echo(args):
    return echo_once(args.host, args.port, payload(args.size, args.seed), args.timeout,
                     args.pause_reading, args.hold, args.rcvbuf)


def mode_many(args):
    failures, lock = [], threading.Lock()

    def one(index):
        message = b"connection %d: " % index + payload(args.size, index)
        try:
            with connect(args.host, args.port, args.timeout) as sock:
                sock.sendall(message)
                sock.shutdown(socket.SHUT_WR)
                echoed = read_to_eof(sock, len(message))
            if echoed != message:
                raise ValueError(f"echo differs: {len(echoed)} of {len(message)} bytes back")
            return True
        except (OSError, ValueError) as error:
            with lock:
                failures.append(f"#{index}: {type(error).__name__}: {error}")
            return False

    start = time.monotonic()
    sequential_ok = sum(one(i) for i in range(args.sequential))
    sequential_seconds = time.monotonic() - start
    results = [False] * args.concurrent
    barrier = threading.Barrier(args.concurrent)

    def worker(slot):
        barrier.wait(args.timeout)          # all connect at once
        results[slot] = one(args.sequential + slot)

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True)
               for slot in range(args.concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.timeout * 2)
    return {"sequential": args.sequential, "sequential_ok": sequential_ok,
            "concurrent": args.concurrent, "concurrent_ok": sum(results),
            "failures": failures[:10], "sequential_seconds": round(sequential_seconds, 3),
            "seconds": round(time.monotonic() - start, 3)}


def mode_discard(args):
    data = payload(args.size, args.seed)
    start = time.monotonic()
    with connect(args.host, args.port, args.timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        sent_at = time.monotonic()
        back = read_to_eof(sock)            # the server's FIN: recv returns b''
    return {"sent": len(data), "received": len(back), "eof": True,
            "fin_wait_seconds": round(time.monotonic() - sent_at, 3),
            "seconds": round(time.monotonic() - start, 3)}


def mode_refused(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    start = time.monotonic()
    try:
        sock.connect((args.host, args.port))
        outcome = "connected"
    except OSError as error:
        outcome = errno.errorcode.get(error.errno, "") if error.errno else type(error).__name__
    finally:
        sock.close()
    return {"outcome": outcome, "seconds": round(time.monotonic() - start, 3)}


def mode_abort(args):
    data = payload(args.size, args.seed)
    sock = connect(args.host, args.port, args.timeout)
    sock.sendall(data)
    first = sock.recv(65536)                # the connection is established and echoing
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()                            # RST, not FIN (RFC 9293 §3.10.4 ABORT)
    time.sleep(0.2)
    after = echo_once(args.host, args.port, payload(1000, args.seed + 1), args.timeout)
    return {"echoed_before_abort": len(first), "after": after}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["echo", "many", "discard", "refused", "abort"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pause-reading", type=float, default=0.0)
    parser.add_argument("--hold", type=int, default=0)
    parser.add_argument("--rcvbuf", type=int, default=0)
    parser.add_argument("--sequential", type=int, default=0)
    parser.add_argument("--concurrent", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    report = globals()[f"mode_{args.mode}"](args)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
