#!/usr/bin/python3
"""Sends raw bytes to an HTTP server, in steps, on several connections one
after another, and prints what each connection received as one JSON line.

  raw_client.py HOST PORT SCRIPT
SCRIPT is JSON: a list of connections, each a list of steps: ["send", TEXT]
sends TEXT (latin-1), ["response"] reads the connection's one response
(framed by its Content-Length; read to the close without one), ["close"] reads to the end of
the stream. Connections stay open until every one has run, so the server sees
them side by side. Output: {"received": [TEXT, ...], "closed": [BOOL, ...]}."""

import json
import socket
import sys


def read_response(sock, buffer):
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return buffer, True
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while length is None or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return buffer, True
        body += chunk
        buffer += chunk
    return buffer, False


def main():
    host, port, script = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    sockets, received, closed = [], [], []
    for steps in script:
        sock = socket.create_connection((host, port), timeout=5)
        sockets.append(sock)
        buffer, ended = b"", False
        for step in steps:
            if step[0] == "send":
                sock.sendall(step[1].encode("latin-1"))
            elif step[0] == "response":
                buffer, ended = read_response(sock, buffer)
            elif step[0] == "close":
                while not ended:
                    try:
                        chunk = sock.recv(65536)
                    except ConnectionResetError:
                        break
                    ended = not chunk
                    buffer += chunk
        received.append(buffer.decode("latin-1"))
        closed.append(ended)
    for sock in sockets:
        sock.close()
    print(json.dumps({"received": received, "closed": closed}))


if __name__ == "__main__":
    main()
