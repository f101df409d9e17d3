"""A kernel HTTP/1.1 upstream for the reverse-proxy tests, in netns mtcp-c:
GET /api/echo-path answers the path; GET /api/slow waits 5 s; GET /api/big
sends N pseudo-random bytes (?n=); POST answers the SHA-256 of the body
(Content-Length or chunked); GET /api/chunked answers with a chunked body;
every response says which request headers it saw (X-Seen-*)."""

import argparse
import hashlib
import http.server
import random
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body, status=200, chunked=False):
        self.send_response(status)
        for name in ("X-Forwarded-For", "Via", "Connection", "Keep-Alive", "X-Custom"):
            self.send_header(f"X-Seen-{name}", self.headers.get(name, "-"))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 1000):
                piece = body[start:start + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/api/slow":
            time.sleep(5)
            return self.reply(b"slow\n")
        if path == "/api/big":
            size = int(query.split("=")[1]) if query else 1 << 20
            return self.reply(random.Random(size).randbytes(size))
        if path == "/api/chunked":
            return self.reply(random.Random(7).randbytes(50_000), chunked=True)
        return self.reply(path.encode() + b"\n")

    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(hashlib.sha256(data).hexdigest().encode() + b"\n")


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    request_queue_size = 1024
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="198.18.0.2")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
