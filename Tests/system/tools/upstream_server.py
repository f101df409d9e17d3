"""A kernel HTTP/1.1 upstream for the reverse-proxy tests, in netns mtcp-c:
GET /api/echo-path answers the path; GET /api/slow waits 5 s; GET
/api/delay?ms=N answers after N ms; GET /api/stall reads the request and never
answers (for a minute); GET /api/hints sends `103 Early Hints` first; GET /api/big
sends N pseudo-random bytes (?n=); GET /api/close-delimited sends them delimited
by the close, which over TLS says close_notify first unless ?bare-fin (a crashed
server, or a FIN forged on the path); POST answers the SHA-256 of the body
(Content-Length or chunked); GET /api/chunked answers with a chunked body;
every response says which request headers it saw (X-Seen-*) and which port
answered (X-Upstream-Port).

With --raw-log DIR it is instead a raw-logging upstream: each connection's
bytes go, exactly as received, to DIR/conn-N.bin; the requests found in them
(framed by Content-Length or chunked, as a strict server frames them) are
appended to DIR/requests.jsonl as hex, one JSON line each with the connection
number; each request is answered `200` with a 2-byte body, or with --early
STATUS as soon as its head is complete (an early answer, its body unread).
With --http10 the answer is `HTTP/1.0 200 OK` delimited by the close.
With --tls CERT KEY the (non-raw) upstream speaks HTTPS with that certificate chain and key;
with --client-ca CA it also requires a client certificate that CA signed (GET
…/api/client-cert answers its common name), with --max-tls 1.2 it offers no newer
protocol than TLS 1.2."""

import argparse
import hashlib
import http.server
import itertools
import json
import os
import random
import socket
import ssl
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body, status=200, chunked=False):
        self.send_response(status)
        self.send_header("X-Upstream-Port", str(self.server.server_address[1]))
        for name in ("X-Forwarded-For", "Via", "Connection", "Keep-Alive", "X-Custom", "Host", "X-Forwarded-Proto",
                     "X-Forwarded-Host", "Forwarded", "Cookie", "X-Env", "Expect"):
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
        if path == "/api/delay":
            time.sleep(int(query.split("=")[1]) / 1000)
            return self.reply(b"late\n")
        if path == "/api/stall":
            time.sleep(60)
            return self.reply(b"too late\n")
        if path == "/api/hints":
            self.send_response_only(103)
            self.send_header("Link", "</style.css>; rel=preload")
            self.end_headers()
            self.wfile.flush()
            time.sleep(0.2)
            return self.reply(b"final\n")
        if path == "/api/big":
            size = int(query.split("=")[1]) if query else 1 << 20
            return self.reply(random.Random(size).randbytes(size))
        if path == "/api/chunked":
            return self.reply(random.Random(7).randbytes(50_000), chunked=True)
        if path.endswith("/api/client-cert"):  # under any route prefix
            subject = dict(field for fields in self.connection.getpeercert()["subject"] for field in fields)
            return self.reply(subject["commonName"].encode() + b"\n")
        if path == "/api/close-delimited":
            return self.reply_until_close(random.Random(5).randbytes(100_000), close_notify=query != "bare-fin")
        return self.reply(path.encode() + b"\n")

    def reply_until_close(self, body, close_notify):
        """`body` with no length, ended by the close. Python's ssl sends no
        close_notify when a socket closes: unwrap() says it, and waits for the peer's."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if close_notify and isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(5)
            self.connection.unwrap()

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


def request_end(data, start):
    """Where the request starting at `start` ends, or None while incomplete
    (or when its framing is not understood: then nothing more is framed)."""
    head_end = data.find(b"\r\n\r\n", start)
    if head_end < 0:
        return None
    body = head_end + 4
    fields = {}
    for line in data[start:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    if b"chunked" in b",".join(fields.get(b"transfer-encoding", [])).lower():
        position = body
        while True:
            line_end = data.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(data[position:line_end].split(b";")[0], 16)
            position = line_end + 2
            if size == 0:
                trailer_end = data.find(b"\r\n\r\n", position - 2)
                return None if trailer_end < 0 else trailer_end + 4
            position += size + 2
            if position > len(data):
                return None
    length = int(fields.get(b"content-length", [b"0"])[0])
    return body + length if body + length <= len(data) else None


def serve_raw(connection, number, args):
    log = open(os.path.join(args.raw_log, f"conn-{number}.bin"), "wb", buffering=0)
    data = b""
    start = 0
    answered_head = False
    ok = b"HTTP/1.0 200 OK\r\n\r\nok" if args.http10 else b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    early = b"HTTP/1.1 %d Early\r\nContent-Length: 0\r\n\r\n" % args.early if args.early else None
    with connection:
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                return
            log.write(chunk)
            data += chunk
            while True:
                if early and not answered_head and data.find(b"\r\n\r\n", start) >= 0:
                    connection.sendall(early)
                    answered_head = True
                end = request_end(data, start)
                if end is None:
                    break
                with open(os.path.join(args.raw_log, "requests.jsonl"), "a") as requests:
                    requests.write(json.dumps({"connection": number, "hex": data[start:end].hex()}) + "\n")
                start = end
                answered_head = False
                if not early:
                    connection.sendall(ok)
                    if args.http10:
                        return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="198.18.0.2")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--raw-log")
    parser.add_argument("--early", type=int)
    parser.add_argument("--http10", action="store_true")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--client-ca")
    parser.add_argument("--max-tls", choices=["1.2"])
    args = parser.parse_args()
    if args.raw_log:
        listener = socket.create_server((args.host, args.port), reuse_port=False)
        print("ready", flush=True)
        try:
            for number in itertools.count():
                connection, _ = listener.accept()
                threading.Thread(target=serve_raw, args=(connection, number, args), daemon=True).start()
        except KeyboardInterrupt:
            return  # the fixture's stop
    if ":" in args.host:
        Server.address_family = socket.AF_INET6
    server = Server((args.host, args.port), Handler)
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        if args.max_tls:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        # The handshake runs in the connection's own thread (on its first read), not in accept.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
