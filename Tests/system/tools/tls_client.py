#!/usr/bin/python3
"""TLS clients that misbehave on purpose, for the system tests (run inside netns mtcp-c).

Each mode prints one JSON object as its last line of stdout and exits 0 unless the
tool itself broke; the test decides what the result means. Every socket has a
timeout, so nothing here waits longer than --timeout seconds for the server.

The ClientHellos are real ones: Python's ssl module (the system's OpenSSL) writes
them into a memory BIO, and this tool sends their bytes over a plain socket, whole
or cut short, so that no handshake is made by hand.

  hello HOST PORT [--cut FRACTION] [--then fin|rst|wait] [--alpn P ...]
                  [--min-version V] [--max-version V] [--mangle HOW] [--repeat N]
                  [--trickle SECONDS] [--timeout S]
        Sends the first FRACTION (default 1) of a ClientHello (made wrong in one way
        with --mangle; one byte every SECONDS with --trickle, stopping early if the
        server closes), then:
          wait  reads until the server closes (EOF or RST) or --timeout passes;
          fin   shuts down its write side (FIN) and then reads as for wait;
          rst   closes at once with SO_LINGER {1, 0} (an RST); nothing is read.
  raw   HOST PORT --hex BYTES [--then fin|rst|wait] [--repeat N] [--timeout S]
        The same with arbitrary bytes (none: --hex '') instead of a ClientHello.
        With --repeat both do it N times, one connection after another.
  many  HOST PORT --count N [--cut FRACTION] [--timeout S]
        N connections at once, each sending the first FRACTION of a ClientHello and
        then waiting; reports how many the server closed within S seconds of the
        last connect (opened, closed, endings {eof, reset}, first and last: seconds).
  idle  HOST PORT --idle SECONDS [--path P] [--timeout S]
        A full handshake (no certificate check, ALPN http/1.1), then SECONDS of
        silence, then GET PATH with Connection: close; reports the response.

Report fields: sent (bytes), ended ("eof", "reset", "timeout" or
"closed-by-us"), seconds (from the last byte sent until the end), since_connect
(from the connection's start until the end), received (byte
count), records (the TLS records that came back: [content type, version, length])
and alerts ([[level, description], ...] of the plaintext alert records), all of
the last connection, and endings ({ended: count} over all of them).
"""

import argparse
import hashlib
import json
import selectors
import socket
import ssl
import struct
import sys
import time
import warnings

# TLS 1.0 and 1.1 are deprecated in Python; offering them is the point of --max-version.
warnings.filterwarnings("ignore", category=DeprecationWarning)

VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
            "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def client_hello(alpn, min_version, max_version):
    """The bytes of the ClientHello that the system's OpenSSL would send first."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if min_version or max_version:
        # TLS 1.0 and 1.1 need security level 0 to be offered at all.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if min_version:
        context.minimum_version = VERSIONS[min_version]
    if max_version:
        context.maximum_version = VERSIONS[max_version]
    if alpn:
        context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=None)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16", hello[:16].hex()
    return hello


def mangle(hello, how):
    """A ClientHello made wrong in one way: "ext-length" says the extensions run one
    byte longer than they do; "server-hello" claims to be a ServerHello (type 2);
    "zero-length" is an empty handshake record before the hello."""
    data = bytearray(hello)
    if how == "ext-length":
        offset = 5 + 4 + 2 + 32
        offset += 1 + data[offset]                                   # session id
        offset += 2 + int.from_bytes(data[offset:offset + 2], "big")  # cipher suites
        offset += 1 + data[offset]                                   # compression methods
        length = int.from_bytes(data[offset:offset + 2], "big")
        data[offset:offset + 2] = (length + 1).to_bytes(2, "big")
    elif how == "server-hello":
        data[5] = 2
    elif how == "zero-length":
        data[0:0] = bytes(data[0:3]) + b"\x00\x00"
    return bytes(data)


def parse_records(data):
    """(records, alerts) of the plaintext TLS records at the start of `data`."""
    records, alerts, offset = [], [], 0
    while offset + 5 <= len(data):
        kind, version, length = struct.unpack_from("!BHH", data, offset)
        records.append([kind, version, length])
        body = data[offset + 5:offset + 5 + length]
        if kind == 21 and length == 2 and len(body) == 2:
            alerts.append([body[0], body[1]])
        offset += 5 + length
    return records, alerts


def receive(sock, wait):
    """Bytes the server sent within `wait` seconds: (bytes, None), or (b"", why it
    ended: "timeout", "reset" or "eof")."""
    sock.settimeout(wait)
    try:
        chunk = sock.recv(65536)
    except socket.timeout:
        return b"", "timeout"
    except ConnectionResetError:
        return b"", "reset"
    return (chunk, None) if chunk else (b"", "eof")


def exchange(host, port, data, then, timeout, trickle=0.0):
    """Sends `data` (one byte every `trickle` seconds when that is not 0), then
    behaves as `then` says; the report (see the module doc)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    connected = time.monotonic()
    sock.settimeout(timeout)
    received, ended, sent = b"", None, 0
    if trickle:
        # Byte by byte, watching for the server's close between two bytes.
        for index in range(len(data)):
            try:
                sock.sendall(data[index:index + 1])
            except (BrokenPipeError, ConnectionResetError):
                ended = "reset"
                break
            sent += 1
            chunk, why = receive(sock, trickle)
            if why == "timeout":
                continue
            if why:
                ended = why
                break
            received += chunk
    else:
        sock.sendall(data)
        sent = len(data)
    start = time.monotonic()
    report = {"sent": sent}
    if ended is None and then == "rst":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        report.update(ended="closed-by-us", seconds=0.0, since_connect=round(start - connected, 3), received=0,
                      records=[], alerts=[])
        return report
    if ended is None and then == "fin":
        sock.shutdown(socket.SHUT_WR)
    deadline = start + timeout
    while ended is None:
        left = deadline - time.monotonic()
        if left <= 0:
            ended = "timeout"
            break
        chunk, ended = receive(sock, left)
        received += chunk
    end = time.monotonic()
    report.update(seconds=round(end - start, 3), since_connect=round(end - connected, 3))
    sock.close()
    records, alerts = parse_records(received)
    report.update(ended=ended, received=len(received), records=records, alerts=alerts)
    return report


def many(host, port, data, count, timeout):
    """Opens `count` connections that each send `data` and then wait; reports how
    many the server closed (by FIN or RST) within `timeout` seconds of the last one
    being opened, and when."""
    held = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.sendall(data)
        sock.setblocking(False)
        held.append(sock)
    start = time.monotonic()
    selector = selectors.DefaultSelector()
    for sock in held:
        selector.register(sock, selectors.EVENT_READ)
    endings, times = {"eof": 0, "reset": 0}, []
    while len(times) < count and time.monotonic() < start + timeout:
        for key, _ in selector.select(timeout=0.2):
            try:
                if key.fileobj.recv(65536):
                    continue  # an alert before the close
                ended = "eof"
            except ConnectionResetError:
                ended = "reset"
            except BlockingIOError:
                continue
            endings[ended] += 1
            times.append(time.monotonic() - start)
            selector.unregister(key.fileobj)
    for sock in held:
        sock.close()
    return {"opened": count, "closed": len(times), "endings": endings,
            "first": round(min(times), 3) if times else None, "last": round(max(times), 3) if times else None}


def idle(host, port, seconds, path, timeout):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection((host, port), timeout=timeout)
    tls = context.wrap_socket(raw, server_hostname=None)
    report = {"version": tls.version(), "alpn": tls.selected_alpn_protocol()}
    time.sleep(seconds)
    try:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
        ended = "eof"
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError) as error:
        data = locals().get("data", b"")
        ended = f"error: {error!r}"
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else None
    report.update(ended=ended, status=status, length=len(body), sha256=hashlib.sha256(body).hexdigest())
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["hello", "raw", "idle", "many"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--cut", type=float, default=1.0, help="fraction of the ClientHello to send")
    parser.add_argument("--then", choices=["fin", "rst", "wait"], default="wait")
    parser.add_argument("--alpn", nargs="*", default=["http/1.1"])
    parser.add_argument("--min-version", choices=VERSIONS)
    parser.add_argument("--max-version", choices=VERSIONS)
    parser.add_argument("--mangle", choices=["ext-length", "server-hello", "zero-length"],
                        help="make the ClientHello wrong in this way (hello mode)")
    parser.add_argument("--count", type=int, default=100, help="connections held at once (many mode)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="do it this many times, one connection after another; the report is the "
                             "last one's, with the count of each ending in `endings`")
    parser.add_argument("--trickle", type=float, default=0.0,
                        help="send one byte every this many seconds (stops when the server closes)")
    parser.add_argument("--hex", help="bytes to send (raw mode)")
    parser.add_argument("--idle", type=float, default=0.0, help="seconds of silence after the handshake")
    parser.add_argument("--path", default="/")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    if args.mode == "idle":
        report = idle(args.host, args.port, args.idle, args.path, args.timeout)
    elif args.mode == "many":
        hello = client_hello(args.alpn, args.min_version, args.max_version)
        report = many(args.host, args.port, hello[:max(1, int(len(hello) * args.cut))], args.count, args.timeout)
    else:
        if args.mode == "hello":
            data = client_hello(args.alpn, args.min_version, args.max_version)
            if args.mangle:
                data = mangle(data, args.mangle)
            data = data[:max(1, min(len(data), int(len(data) * args.cut)))]
        else:
            data = bytes.fromhex(args.hex or "")
        endings = {}
        for _ in range(args.repeat):
            report = exchange(args.host, args.port, data, args.then, args.timeout, args.trickle)
            endings[report["ended"]] = endings.get(report["ended"], 0) + 1
        report["endings"] = endings
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    sys.exit(main())
