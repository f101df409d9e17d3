#!/usr/bin/python3
"""A kernel TCP echo server (RFC 862) for the system tests: the peer that
mtcp-loadgen drives when the stack acts as a client.

Usage: echo_server.py [--host 198.18.0.2] [--port 7000]

Prints `echo_server: ready HOST:PORT` (flushed) once it listens, then serves every
connection in its own thread: echoes until the client half-closes, then closes.
At exit (SIGTERM or SIGINT) it prints `echo_server: connections N, bytes B`.
"""

import argparse
import signal
import socketserver
import sys
import threading

stats = {"connections": 0, "bytes": 0}
lock = threading.Lock()


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        count = 0
        while data := self.request.recv(65536):
            self.request.sendall(data)
            count += len(data)
        with lock:
            stats["connections"] += 1
            stats["bytes"] += count


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="198.18.0.2")
    parser.add_argument("--port", type=int, default=7000)
    args = parser.parse_args()
    server = Server((args.host, args.port), Echo)

    def stop(signum, frame):
        # shutdown() waits for serve_forever, which runs in this thread: from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"echo_server: ready {args.host}:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print(f"echo_server: connections {stats['connections']}, bytes {stats['bytes']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
