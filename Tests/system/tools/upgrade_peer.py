#!/usr/bin/python3
"""Both ends of an upgraded connection for the proxy's tunnel tests, on the
standard library alone (RFC 6455 is small enough to speak by hand).

  upgrade_peer.py server --port 8090
      A kernel upstream. `Upgrade: websocket` is answered 101 with its
      Sec-WebSocket-Accept, then every data frame is echoed (unmasked, as a
      server sends) and a close frame answered with one, then the close.
      `Upgrade: echo` is answered 101, then the bytes are echoed until the
      client's half-close, after which it sends `bye` and closes: what it
      sends after the client's FIN proves that the half-close was passed on.
      Anything else is 400. Prints `ready` once it listens.

  upgrade_peer.py websocket HOST PORT PATH
  upgrade_peer.py echo HOST PORT PATH
      The client of either protocol through the proxy (over TLS on port 443);
      prints one JSON line with what it checked, and exits 1 when anything differed.
"""

import base64
import hashlib
import json
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B5B"  # RFC 6455 §1.3


def accept_value(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def read_head(sock):
    """The bytes up to the empty line, and any bytes after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed inside the head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return lines[0], fields, rest


class Reader:
    """Exactly-n reads over a socket, starting with bytes already received."""

    def __init__(self, sock, rest=b""):
        self.sock, self.buffer = sock, rest

    def exactly(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed with {len(self.buffer)} of {count} bytes")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data


def frame(opcode, payload, mask):
    """One final frame (RFC 6455 §5.2); a client masks, a server does not."""
    head = bytes([0x80 | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


def read_frame(reader):
    first, second = reader.exactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", reader.exactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", reader.exactly(8))[0]
    key = reader.exactly(4) if second & 0x80 else None
    payload = reader.exactly(length)
    if key:
        payload = bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))
    return first & 0x0F, payload


class Upstream(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        try:
            _, fields, rest = read_head(sock)
        except EOFError:
            return
        protocol = fields.get("upgrade", "").lower()
        seen = f"X-Seen-Connection: {fields.get('connection', '-')}\r\nX-Seen-Via: {fields.get('via', '-')}\r\n"
        if protocol == "websocket" and "sec-websocket-key" in fields:
            sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept_value(fields['sec-websocket-key'])}\r\n{seen}\r\n").encode())
            reader = Reader(sock, rest)
            while True:
                opcode, payload = read_frame(reader)
                if opcode == 8:
                    sock.sendall(frame(8, payload[:2], mask=False))
                    return
                sock.sendall(frame(opcode, payload, mask=False))
        elif protocol == "echo":
            sock.sendall(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n{seen}\r\n"
                         .encode() + rest)
            while data := sock.recv(65536):
                sock.sendall(data)
            sock.sendall(b"bye")
        else:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def handshake(host, port, path, upgrade, extra=""):
    sock = socket.create_connection((host, port), timeout=20)
    if port == 443:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test certificate is self-signed
        sock = context.wrap_socket(sock)
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: {upgrade}\r\n"
                  f"{extra}\r\n").encode())
    status, fields, rest = read_head(sock)
    return sock, status, fields, rest


def websocket_client(host, port, path):
    key = base64.b64encode(os.urandom(16)).decode()
    sock, status, fields, rest = handshake(host, port, path, "websocket",
                                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    result = {"status": status, "accept_ok": fields.get("sec-websocket-accept") == accept_value(key),
              "upgrade": fields.get("upgrade"), "connection": fields.get("connection"),
              "seen_connection": fields.get("x-seen-connection"), "seen_via": fields.get("x-seen-via")}
    reader = Reader(sock, rest)
    echoed = []
    # 7-bit, 16-bit and 64-bit payload lengths, text and binary.
    for opcode, payload in [(1, b"hello"), (2, os.urandom(300)), (2, os.urandom(70_000))]:
        sock.sendall(frame(opcode, payload, mask=True))
        echoed.append(read_frame(reader) == (opcode, payload))
    sock.sendall(frame(8, struct.pack("!H", 1000), mask=True))
    result["echoes_ok"] = echoed
    result["close_echoed"] = read_frame(reader) == (8, struct.pack("!H", 1000))
    result["end_of_stream"] = sock.recv(1) == b""
    result["ok"] = (" 101 " in status and result["accept_ok"] and all(echoed) and result["close_echoed"]
                    and result["end_of_stream"])
    return result


def echo_client(host, port, path):
    sock, status, fields, rest = handshake(host, port, path, "echo")
    data = os.urandom(1 << 20)
    received = [rest]

    def read_all():
        while chunk := sock.recv(65536):
            received.append(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    reader.join(30)
    got = b"".join(received)
    result = {"status": status, "upgrade": fields.get("upgrade"), "connection": fields.get("connection"),
              "received": len(got), "sent": len(data), "echo_ok": got[:len(data)] == data,
              "after_half_close": got[len(data):].decode("latin-1"), "end_of_stream": not reader.is_alive()}
    result["ok"] = (" 101 " in status and result["echo_ok"] and result["after_half_close"] == "bye"
                    and result["end_of_stream"])
    return result


def main():
    mode = sys.argv[1]
    if mode == "server":
        server = Server(("0.0.0.0", int(sys.argv[sys.argv.index("--port") + 1])), Upstream)
        print("ready", flush=True)
        server.serve_forever()
    host, port, path = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    result = (websocket_client if mode == "websocket" else echo_client)(host, port, path)
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
