#!/usr/bin/env python3
"""Makes the request files for scripts/bench/tracker.sh.

Writes into DIR:
  whitelist.txt   the info-hashes as 40 hex digits a line (opentracker's access.whitelist)
  hashes.txt      the same info-hashes percent-encoded, one a line (the RSS fill reads them)
  plain.txt       announce query strings (`?info_hash=...`) with random peer ids, one a line
  signed.txt      full signed-announce paths (`/announce?...&swt_key=..&swt_ts=..&swt_sig=..`), one a line
  allowlist       the allowlist: the signing node keys and one passkey
  passkey         the passkey token

Signed announces follow Docs/identity.md ("The signed message (version 1)"); this is an independent implementation
on Python's `cryptography` package, so the benchmark also checks that the spec is enough to interoperate.
"""
import argparse
import base64
import os
import random
import struct
import time
import urllib.parse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DOMAIN = b"swtorrent-announce-v1\n"
PEER_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def canonical_host(authority):
    host = authority.lower()
    for suffix in (":80", ":443"):
        head = host[: -len(suffix)]
        if host.endswith(suffix) and head and (head.endswith("]") or ":" not in head):
            host = head
    return host.encode()


def signed_message(info_hash, peer_id, port, event, host, path, ts):
    return (DOMAIN + info_hash + peer_id + struct.pack(">HBQ", port, event, ts)
            + bytes([len(host)]) + host + struct.pack(">H", len(path)) + path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--swarms", type=int, default=100_000)
    parser.add_argument("--plain", type=int, default=200_000, help="plain announces to write")
    parser.add_argument("--signed", type=int, default=0, help="signed announces to write (needs --host)")
    parser.add_argument("--keys", type=int, default=100, help="node keys that sign them")
    parser.add_argument("--host", help="the tracker's authority as the client sends it, e.g. 127.0.0.1:6970")
    parser.add_argument("--path", default="/announce")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    hashes = [rng.randbytes(20) for _ in range(args.swarms)]
    encoded = [urllib.parse.quote(h, safe="") for h in hashes]
    os.makedirs(args.dir, exist_ok=True)

    def path(name):
        return os.path.join(args.dir, name)

    if not os.path.exists(path("whitelist.txt")):
        with open(path("whitelist.txt"), "w") as f:
            f.writelines(h.hex() + "\n" for h in hashes)
        with open(path("hashes.txt"), "w") as f:
            f.writelines(e + "\n" for e in encoded)

    keys = [Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)) for _ in range(args.keys)]
    raw_public = [k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) for k in keys]
    passkey = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(32))
    with open(path("allowlist"), "w") as f:
        f.write("# made by scripts/bench/tracker_requests.py\n")
        f.write(f"passkey {passkey} bench passkey client\n")
        for i, pk in enumerate(raw_public):
            f.write(f"ed25519 {base64.b64encode(pk).decode()} bench node {i}\n")
    with open(path("passkey"), "w") as f:
        f.write(passkey + "\n")

    def peer_id():
        return ("-WR0001-" + "".join(rng.choice(PEER_CHARS) for _ in range(12))).encode()

    if args.plain and not os.path.exists(path("plain.txt")):
        with open(path("plain.txt"), "w") as f:
            for _ in range(args.plain):
                i = rng.randrange(args.swarms)
                f.write(f"?info_hash={encoded[i]}&peer_id={peer_id().decode()}&port={rng.randrange(1024, 65535)}"
                        f"&uploaded=0&downloaded=0&left=1048576&compact=1&numwant=50\n")

    if args.signed:
        if not args.host:
            parser.error("--signed needs --host")
        host = canonical_host(args.host)
        ts = int(time.time())
        with open(path("signed.txt"), "w") as f:
            for n in range(args.signed):
                i = rng.randrange(args.swarms)
                k = n % len(keys)
                pid = peer_id()
                port = rng.randrange(1024, 65535)
                sig = keys[k].sign(signed_message(hashes[i], pid, port, 0, host, args.path.encode(), ts))
                f.write(f"{args.path}?info_hash={encoded[i]}&peer_id={pid.decode()}&port={port}"
                        f"&uploaded=0&downloaded=0&left=1048576&compact=1&numwant=50"
                        f"&swt_key={raw_public[k].hex()}&swt_ts={ts}&swt_sig={sig.hex()}\n")


if __name__ == "__main__":
    main()
