#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that breaks the first TLS handshakes through it, for the HTTPS mirror tests
(TLSAlertProxy.swift): what an on-path attacker injecting one alert, or a flaky middlebox, does.

The first --alert-first connections (default 1) are read up to the end of the client's first TLS record (its
ClientHello; at most 5 s and 18 KiB), answered with one fatal handshake_failure alert record
(15 03 03 00 02 02 28: alert, record version TLS 1.2, length 2, fatal, handshake_failure) and closed. Every later
connection is forwarded to 127.0.0.1:--target byte for byte, both ways, until either side closes or nothing moves
for --idle seconds.

Each connection is logged to stdout as one line `CONN <n> alert <t>` or `CONN <n> forward <t>` (flushed) when it
is accepted, <t> the monotonic clock in seconds (time.monotonic(): only differences mean anything). The port it listens on is written to --port-file. The process exits on its own after --lifetime seconds
(bounded even if nobody stops it).
"""
import argparse
import os
import socket
import sys
import threading
import time

ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
MAX_RECORD = 5 + 18 * 1024


def read_first_record(conn):
    """Reads the client's first TLS record (bounded in bytes and time); False if it is not one."""
    conn.settimeout(5)
    data = b""
    try:
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            if len(data) >= MAX_RECORD:
                return False
            chunk = conn.recv(MAX_RECORD - len(data))
            if not chunk:
                return False
            data += chunk
    except OSError:
        return False
    return data[0] == 0x16  # handshake


def alert(conn):
    try:
        if read_first_record(conn):
            conn.sendall(ALERT)
    except OSError:
        pass
    finally:
        conn.close()


def pump(source, sink, idle):
    source.settimeout(idle)
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def forward(conn, target, idle):
    try:
        upstream = socket.create_connection(("127.0.0.1", target), timeout=5)
    except OSError:
        conn.close()
        return
    back = threading.Thread(target=pump, args=(upstream, conn, idle), daemon=True)
    back.start()
    pump(conn, upstream, idle)
    back.join(idle + 5)
    conn.close()
    upstream.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--alert-first", type=int, default=1)
    p.add_argument("--idle", type=float, default=60)
    p.add_argument("--lifetime", type=float, default=300)
    args = p.parse_args()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(tmp, args.port_file)
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    count = 0
    while True:
        conn, _ = server.accept()
        count += 1
        broken = count <= args.alert_first
        sys.stdout.write("CONN %d %s %.3f\n" % (count, "alert" if broken else "forward", time.monotonic()))
        sys.stdout.flush()
        if broken:
            threading.Thread(target=alert, args=(conn,), daemon=True).start()
        else:
            threading.Thread(target=forward, args=(conn, args.target, args.idle), daemon=True).start()


if __name__ == "__main__":
    main()
