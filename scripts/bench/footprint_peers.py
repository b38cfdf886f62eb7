#!/usr/bin/env python3
"""Holds one plain BitTorrent connection per .torrent to a seed on loopback (bench/footprint.sh, case c).

Usage: footprint_peers.py HOST PORT TORRENT...

For each torrent: connect, send the handshake for its info-hash, read the seed's handshake back, send `interested`,
and keep the connection: whatever the seed sends is read and dropped, a keep-alive goes out every 60 s. The
handshakes all go out at once, each from its own loopback address, and their answers are awaited together. Prints `connected N of M` once every answer
came or HANDSHAKE_SECONDS passed, then runs until SIGTERM/SIGINT and prints `open N` (connections the seed has not
closed). Every wait is bounded (5 s per connect, HANDSHAKE_SECONDS for the answers).
"""
import hashlib
import os
import selectors
import signal
import socket
import sys
import time

HANDSHAKE_SECONDS = 60


def info_hash(path):
    """SHA-1 of the raw bencoded `info` value of a .torrent (no bencode library needed)."""
    data = open(path, "rb").read()

    def skip(i):
        c = data[i:i + 1]
        if c == b"i":
            return data.index(b"e", i) + 1
        if c in (b"l", b"d"):
            i += 1
            while data[i:i + 1] != b"e":
                i = skip(i)
            return i + 1
        colon = data.index(b":", i)
        return colon + 1 + int(data[i:colon])

    i = 1  # the top-level dictionary
    while data[i:i + 1] != b"e":
        key_end = skip(i)
        key = data[data.index(b":", i) + 1:key_end]
        value_end = skip(key_end)
        if key == b"info":
            return hashlib.sha1(data[key_end:value_end]).digest()
        i = value_end
    raise SystemExit(f"{path}: no info dictionary")


def main():
    host, port, torrents = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    peer_id = b"-FP0001-" + os.urandom(12)
    selector = selectors.DefaultSelector()
    # Every handshake goes out at once and the answers are awaited together (a seed may take its time over each,
    # as transmission-daemon does, about 0.5 s): at most HANDSHAKE_SECONDS in all.
    pending = {}
    for index, path in enumerate(torrents):
        # Each from its own loopback address (127.1.0.1, 127.1.0.2, ...): transmission-daemon keeps one incoming
        # handshake per address at a time and closes the others.
        source = (f"127.1.{index // 250}.{index % 250 + 1}", 0)
        try:
            sock = socket.create_connection((host, port), timeout=5, source_address=source)
            sock.sendall(b"\x13BitTorrent protocol" + bytes(8) + info_hash(path) + peer_id)
        except OSError:
            continue
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        pending[sock] = b""
    deadline = time.monotonic() + HANDSHAKE_SECONDS
    connected = 0
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                selector.unregister(sock)
                sock.close()
                pending.pop(sock, None)
                continue
            if sock in pending:
                pending[sock] += data
                if len(pending[sock]) >= 68:
                    del pending[sock]
                    connected += 1
                    try:
                        sock.send(b"\x00\x00\x00\x01\x02")  # interested
                    except OSError:
                        pass
    for sock in pending:  # never answered in time
        selector.unregister(sock)
        sock.close()
    print(f"connected {connected} of {len(torrents)}", flush=True)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    last_keepalive = time.monotonic()
    while not stop:
        for key, _ in selector.select(timeout=1):
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                selector.unregister(key.fileobj)
                key.fileobj.close()
        if time.monotonic() - last_keepalive >= 60:
            last_keepalive = time.monotonic()
            for key in list(selector.get_map().values()):
                try:
                    key.fileobj.send(bytes(4))
                except OSError:
                    pass
    print(f"open {len(selector.get_map())}", flush=True)


if __name__ == "__main__":
    main()
