#!/usr/bin/env python3
"""A small HTTP/1.1 file server with Range support and injected faults, for the mirror tests (FaultyHTTPServer.swift).

Serves the files under --root on 127.0.0.1 (GET and HEAD, one Range `bytes=A-B` per request; --listen ADDRESS and
--port N for another address or a fixed port, as the network lab's mirrors use). Faults, each optional:

  --fail-first N --fail-status S   the first N requests are answered with status S (e.g. 503), then it recovers
  --status S                       every request is answered with status S (404, 416, 500 ...)
  --corrupt                        every byte served is inverted (the body has the asked length: bad data)
  --short K                        bodies stop K bytes early (Content-Length says the asked length; then close)
  --long K                         bodies carry K bytes more than asked (Content-Length says so)
  --stall-after K                  after K body bytes of a response, send nothing more (until stopped)
  --die-after K                    the process exits once it has sent K body bytes in all (a mirror that dies)
  --redirects N                    each request is redirected N times (302 to /r/<n>/PATH) before it is served
  --redirect-loop                  every request is redirected to itself
  --ignore-range                   Range is ignored: 200 with the whole file
  --no-content-range               206 responses carry no Content-Range
  --wrong-total                    206 responses name a total one byte longer than the file (another version)
  --rate B                         bodies are sent at about B bytes per second (a slow mirror)

Each request is logged to stdout as one line `REQ <monotonic seconds> <status> <path> <range>` (flushed) when it
arrives, and a body sent in full as `END <monotonic seconds> <status> <path> <range>`, so a test can read when
requests came (backoff) and how many were served at once. The port it listens on is written to --port-file. The process exits
on its own after --lifetime seconds (bounded even if nobody stops it).
"""
import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

args = None
lock = threading.Lock()
state = {"requests": 0, "sent": 0}


def log(status, path, rng, kind="REQ"):
    with lock:
        sys.stdout.write("%s %.3f %d %s %s\n" % (kind, time.monotonic(), status, path, rng or "-"))
        sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def plain(self, status, text=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(text)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        rng = self.headers.get("Range")
        with lock:
            state["requests"] += 1
            number = state["requests"]
        path = self.path
        if args.redirect_loop:
            log(302, path, rng)
            self.send_response(302)
            self.send_header("Location", path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        hops = 0
        if path.startswith("/r/"):
            parts = path.split("/", 3)
            hops = int(parts[2])
            path = "/" + parts[3]
        if hops < args.redirects:
            log(302, self.path, rng)
            self.send_response(302)
            self.send_header("Location", "/r/%d%s" % (hops + 1, path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if args.status:
            log(args.status, path, rng)
            return self.plain(args.status, b"injected\n")
        if number <= args.fail_first:
            log(args.fail_status, path, rng)
            return self.plain(args.fail_status, b"injected\n")
        file = os.path.realpath(os.path.join(args.root, unquote(path.lstrip("/"))))
        if not file.startswith(os.path.realpath(args.root) + os.sep) or not os.path.isfile(file):
            log(404, path, rng)
            return self.plain(404, b"not found\n")
        size = os.path.getsize(file)
        start, end, status = 0, size - 1, 200
        if rng and not args.ignore_range:
            spec = rng.replace("bytes=", "", 1)
            a, _, b = spec.partition("-")
            start, end = int(a), (int(b) if b else size - 1)
            if start >= size or end < start:
                log(416, path, rng)
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            end = min(end, size - 1)
            status = 206
        length = end - start + 1
        with open(file, "rb") as f:
            f.seek(start)
            body = f.read(length)
        if args.corrupt:
            body = bytes(255 - x for x in body)
        declared = length
        if args.long:
            body += b"\xee" * args.long
            declared = len(body)
        if args.short:
            body = body[: max(0, len(body) - args.short)]
        log(status, path, rng)
        self.send_response(status)
        if status == 206 and not args.no_content_range:
            total = size + 1 if args.wrong_total else size
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, total))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(declared))
        if args.short:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        sent = 0
        view = memoryview(body)
        step = 65536 if not args.rate else max(1024, args.rate // 20)
        while sent < len(body):
            chunk = view[sent : sent + step]
            if args.rate:
                time.sleep(len(chunk) / args.rate)
            if args.stall_after is not None and sent + len(chunk) > args.stall_after:
                chunk = view[sent : max(sent, args.stall_after)]
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(args.lifetime)
                return
            if args.die_after is not None:
                with lock:
                    room = args.die_after - state["sent"]
                    state["sent"] += len(chunk)
                if room <= len(chunk):
                    self.wfile.write(chunk[: max(room, 0)])
                    self.wfile.flush()
                    os._exit(0)
            self.wfile.write(chunk)
            sent += len(chunk)
        self.wfile.flush()
        log(status, path, rng, "END")
        if args.short:
            self.close_connection = True


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--lifetime", type=float, default=300)
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=503)
    p.add_argument("--status", type=int, default=0)
    p.add_argument("--corrupt", action="store_true")
    p.add_argument("--short", type=int, default=0)
    p.add_argument("--long", type=int, default=0)
    p.add_argument("--stall-after", type=int, default=None)
    p.add_argument("--die-after", type=int, default=None)
    p.add_argument("--redirects", type=int, default=0)
    p.add_argument("--redirect-loop", action="store_true")
    p.add_argument("--ignore-range", action="store_true")
    p.add_argument("--no-content-range", action="store_true")
    p.add_argument("--wrong-total", action="store_true")
    p.add_argument("--rate", type=int, default=0)
    args = p.parse_args()
    server = ThreadingHTTPServer((args.listen, args.port), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
