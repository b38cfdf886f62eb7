#!/usr/bin/env python3
"""Fills a tracker with PEERS distinct peers spread evenly over the info-hashes in HASHES (percent-encoded, one a
line), for the RSS test of scripts/bench/tracker.sh. Announces go over keep-alive connections, pipelined in
batches, or with --close one connection per announce (opentracker closes after every reply); peer n announces to swarm n mod len(hashes) with peer id `-FL0001-<n, 12 digits>`. Bounded: every socket
operation has a timeout and the whole fill a deadline. Prints `FILL peers=N seconds=S failures=F`.
"""
import argparse
import socket
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prefix", required=True, help="announce path, e.g. /<passkey>/announce")
    parser.add_argument("--hashes", required=True)
    parser.add_argument("--peers", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16,
                        help="requests pipelined per round trip (our tracker closes a connection with more than 16 queued)")
    parser.add_argument("--deadline", type=float, default=600)
    parser.add_argument("--close", action="store_true", help="a new connection per announce")
    args = parser.parse_args()

    with open(args.hashes) as f:
        hashes = [line.strip() for line in f if line.strip()]
    swarms = len(hashes)
    start = time.monotonic()
    failures = [0] * args.connections
    errors = []

    def request(k, connection):
        return (f"GET {args.prefix}?info_hash={hashes[k % swarms]}&peer_id=-FL0001-{k:012d}"
                f"&port={10000 + k // swarms}&uploaded=0&downloaded=0&left=1&compact=1&numwant=0 HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{args.port}\r\n{connection}\r\n")

    def close_worker(index):
        lo = args.peers * index // args.connections
        hi = args.peers * (index + 1) // args.connections
        try:
            for k in range(lo, hi):
                if k % 1000 == 0 and time.monotonic() - start > args.deadline:
                    raise TimeoutError(f"fill did not finish within {args.deadline} s")
                with socket.create_connection(("127.0.0.1", args.port), timeout=30) as sock:
                    sock.sendall(request(k, "Connection: close\r\n").encode())
                    reply = b""
                    while True:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        reply += chunk
                    if b"failure reason" in reply or not reply.startswith(b"HTTP/1.1 200"):
                        failures[index] += 1
        except Exception as error:  # reported below; the fill then fails
            errors.append(f"connection {index}: {error}")

    def worker(index):
        lo = args.peers * index // args.connections
        hi = args.peers * (index + 1) // args.connections
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=30)
        try:
            n = lo
            buffer = b""
            while n < hi:
                if time.monotonic() - start > args.deadline:
                    raise TimeoutError(f"fill did not finish within {args.deadline} s")
                count = min(args.batch, hi - n)
                sock.sendall("".join(request(k, "") for k in range(n, n + count)).encode())
                seen = 0
                while seen < count:
                    # Parse each response by its Content-Length; bodies are bencoded and may hold any byte.
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        chunk = sock.recv(1 << 20)
                        if not chunk:
                            raise ConnectionError("tracker closed the connection")
                        buffer += chunk
                        continue
                    head = buffer[:end].decode("latin-1").lower()
                    length = 0
                    for line in head.split("\r\n")[1:]:
                        if line.startswith("content-length:"):
                            length = int(line.split(":", 1)[1])
                    total = end + 4 + length
                    while len(buffer) < total:
                        chunk = sock.recv(1 << 20)
                        if not chunk:
                            raise ConnectionError("tracker closed the connection")
                        buffer += chunk
                    if b"failure reason" in buffer[end + 4:total]:
                        failures[index] += 1
                    buffer = buffer[total:]
                    seen += 1
                n += count
        except Exception as error:  # reported below; the fill then fails
            errors.append(f"connection {index}: {error}")
        finally:
            sock.close()

    target = close_worker if args.close else worker
    threads = [threading.Thread(target=target, args=(i,)) for i in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"FILL peers={args.peers} seconds={time.monotonic() - start:.1f} failures={sum(failures)}")
    if errors:
        print("tracker_fill.py: " + "; ".join(errors), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
