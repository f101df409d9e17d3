#!/usr/bin/python3
"""Raw-socket HTTP/1.1 clients for the system tests (run inside netns mtcp-c).

Each mode prints one JSON object as its last line of stdout and exits 0 unless the
tool itself broke; the test decides what it means. Every socket has a timeout.

  pipeline  HOST PORT PATH... [--head INDEX...]
            Writes one GET (HEAD for the indices given) per PATH in ONE send() on one
            connection, then reads the responses in order, framing each by its
            Content-Length (none for HEAD, 304). Reports per response: status,
            fields, body length and SHA-256; then whether the connection is still
            open (nothing more arrives within 0.3 s and no EOF).
  raw       HOST PORT --request-hex HEX [--more-hex HEX --pause S] [--then-hex HEX]
            Sends the bytes (then, --pause seconds later, --more-hex; and, after the
            first response, --then-hex on the same connection), reads until EOF or
            --timeout. Reports every response found
            (status, fields, body length) and how the stream ended: "eof" (FIN),
            "reset" or "timeout" (the server kept the connection open).
"""

import argparse
import hashlib
import json
import socket
import sys
import time


def parse_responses(data, head_indices=()):
    """Splits `data` into complete responses; returns (responses, leftover bytes)."""
    responses = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        lines = data[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            break
        status = int(parts[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        bodiless = len(responses) in head_indices or status in (204, 304) or status < 200
        length = 0 if bodiless else int(fields.get("content-length", "0"))
        if len(data) < end + 4 + length:
            break
        body = data[end + 4:end + 4 + length]
        responses.append({"version": parts[0], "status": status, "fields": fields,
                          "length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                          "text": body[:200].decode("latin-1")})
        data = data[end + 4 + length:]
    return responses, data


def read_until(sock, data, done, timeout):
    """Reads into `data` until done(data) or EOF/reset/timeout; returns (data, how)."""
    deadline = time.monotonic() + timeout
    while not done(data):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return data, "timeout"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, "timeout"
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "eof"
        data += chunk
    return data, None


def pipeline(args):
    heads = set(args.head or [])
    request = b"".join(
        f"{'HEAD' if i in heads else 'GET'} {path} HTTP/1.1\r\nHost: {args.host}\r\n\r\n".encode()
        for i, path in enumerate(args.paths))
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    sock.sendall(request)
    data, how = read_until(sock, b"", lambda d: len(parse_responses(d, heads)[0]) >= len(args.paths),
                           args.timeout)
    responses, rest = parse_responses(data, heads)
    # Still open? Nothing more must come, and no EOF.
    extra, ended = read_until(sock, b"", lambda d: False, 0.3)
    sock.close()
    return {"responses": responses, "leftover": len(rest) + len(extra), "ended": how or ended}


def raw(args):
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    try:
        sock.sendall(bytes.fromhex(args.request_hex))
        if args.more_hex:
            time.sleep(args.pause)
            sock.sendall(bytes.fromhex(args.more_hex))
    except (BrokenPipeError, ConnectionResetError) as error:
        send_error = type(error).__name__
    else:
        send_error = None
    if args.then_hex:
        data, how = read_until(sock, b"", lambda d: len(parse_responses(d)[0]) >= 1, args.timeout)
        if how is None:
            sock.sendall(bytes.fromhex(args.then_hex))
            data, how = read_until(sock, data, lambda d: False, args.timeout)
    else:
        data, how = read_until(sock, b"", lambda d: False, args.timeout)
    sock.close()
    responses, rest = parse_responses(data)
    return {"responses": responses, "leftover": len(rest), "ended": how, "send_error": send_error}


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("pipeline")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("paths", nargs="+")
    p.add_argument("--head", type=int, nargs="*")
    p.add_argument("--timeout", type=float, default=10)
    r = sub.add_parser("raw")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("--request-hex", required=True)
    r.add_argument("--then-hex")
    r.add_argument("--more-hex")
    r.add_argument("--pause", type=float, default=0.3)
    r.add_argument("--timeout", type=float, default=5)
    args = parser.parse_args()
    report = pipeline(args) if args.mode == "pipeline" else raw(args)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
