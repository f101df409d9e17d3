#!/usr/bin/python3
"""A kernel HTTP/1.1 server for the load generator's system tests: serves the
files of a directory, or misbehaves on purpose so that the loadgen's response
checks can be seen to catch it.

Usage: http_server.py [--host 198.18.0.2] [--port 8000] [--root www]
                      [--fault none|short-body|bad-status|garbage|slow|silent]
                      [--delay 0.05] [--every 10]

  none        GET serves ROOT + path with Content-Length, keep-alive as the
              client asks (HTTP/1.1), 404 for missing files
  short-body  announces the file's Content-Length, sends half the body, closes
  bad-status  answers 503 with a well-formed body
  garbage     answers bytes that are not an HTTP response, then closes
  slow        serves as `none`, each response --delay seconds after its request
  silent      serves as `none`, but never answers every --every-th request
              (counted over the server): the connection stays open, unanswered

Prints `http_server: ready HOST:PORT` (flushed) once it listens; at exit
(SIGTERM or SIGINT) `http_server: requests N`.
"""

import argparse
import os
import signal
import socketserver
import sys
import threading
import time

stats = {"requests": 0}
lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            request_line = self.rfile.readline(65537)
            if not request_line:
                return
            headers = {}
            while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            with lock:
                stats["requests"] += 1
                number = stats["requests"]
            if self.server.fault == "silent" and number % self.server.every == 0:
                self.rfile.read()  # until the client gives up and closes or resets
                return
            if self.server.fault == "slow":
                time.sleep(self.server.delay)
            method, target, version = request_line.decode("latin-1").split()
            keep_alive = (version == "HTTP/1.1" and headers.get("connection", "").lower() != "close") or \
                         (version == "HTTP/1.0" and headers.get("connection", "").lower() == "keep-alive")
            if not self.respond(target, keep_alive) or not keep_alive:
                return

    def respond(self, target, keep_alive):
        """Writes one response; False when the connection must close after it."""
        fault = self.server.fault
        if fault == "garbage":
            self.wfile.write(b"SSH-2.0-not-http\r\n\r\n")
            return False
        if fault == "bad-status":
            body = b"busy\n"
            self.send(503, "Service Unavailable", body, keep_alive)
            return True
        path = os.path.normpath(os.path.join(self.server.root, target.split("?")[0].lstrip("/")))
        if not path.startswith(self.server.root) or not os.path.isfile(path):
            self.send(404, "Not Found", b"not found\n", keep_alive)
            return True
        with open(path, "rb") as f:
            body = f.read()
        if fault == "short-body":
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            self.wfile.write(head.encode() + body[: len(body) // 2])
            return False
        self.send(200, "OK", body, keep_alive)
        return True

    def send(self, status, reason, body, keep_alive):
        connection = "keep-alive" if keep_alive else "close"
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\nConnection: {connection}\r\n\r\n"
        self.wfile.write(head.encode() + body)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 4096


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="198.18.0.2")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--root", default="www")
    parser.add_argument("--fault", default="none",
                        choices=["none", "short-body", "bad-status", "garbage", "slow", "silent"])
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--every", type=int, default=10)
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    server.root = os.path.realpath(args.root)
    server.fault = args.fault
    server.delay = args.delay
    server.every = args.every

    def stop(signum, frame):
        # shutdown() waits for serve_forever, which runs in this thread: from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"http_server: ready {args.host}:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print(f"http_server: requests {stats['requests']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
