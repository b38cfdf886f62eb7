#!/usr/bin/python3
"""A libtorrent node for the network lab (scripts/lab/lab.py): seeds or leeches one torrent inside a lab namespace.

Usage: lt_node.py seed|leech TORRENT SAVE_DIR ADDRESS PORT LSD(0|1) TIMEOUT_S

Listens on ADDRESS:PORT only (the namespace's LAN address), announces to the torrent's tracker, and with LSD=1 runs
libtorrent's own local service discovery (BEP 14) on that interface. Prints one JSON object a line on stdout, as
`swtorrent leech --json` does: {"event":"progress","percent":...} every second and {"event":"complete"} once when the
torrent is complete; then keeps seeding until SIGTERM/SIGINT or TIMEOUT_S, whichever comes first, and exits 0
(complete) or 3 (not complete when stopped).
"""
import json
import signal
import sys
import time

import libtorrent as lt


def main() -> int:
    mode, torrent, save, address, port, lsd, timeout = sys.argv[1:8]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    session = lt.session({
        'listen_interfaces': f'{address}:{port}',
        'enable_dht': False,
        'enable_lsd': lsd == '1',
        'enable_upnp': False,
        'enable_natpmp': False,
        # Every lab node has its own address, but a seed and a leech of one host may share one in ad-hoc runs.
        'allow_multiple_connections_per_ip': True,
        # The lab tracker's passkey URL is not /announce, which SSRF mitigation refuses for private addresses.
        'ssrf_mitigation': False,
        'enable_incoming_utp': False,
        'enable_outgoing_utp': False,
        'out_enc_policy': 2,
        'in_enc_policy': 1,
        'alert_mask': 0,
    })
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = save
    if mode == 'seed':
        params.flags |= lt.torrent_flags.seed_mode
    handle = session.add_torrent(params)
    deadline = time.monotonic() + float(timeout)
    reported = False
    last = 0.0
    while not stop and time.monotonic() < deadline:
        status = handle.status()
        now = time.monotonic()
        if now - last >= 1.0:
            last = now
            print(json.dumps({'event': 'progress', 'percent': round(status.progress * 100, 2),
                              'verifiedBytes': status.total_wanted_done, 'peers': status.num_peers}), flush=True)
        if status.is_seeding and not reported:
            reported = True
            print(json.dumps({'event': 'complete', 'verifiedBytes': status.total_wanted_done}), flush=True)
        time.sleep(0.1)
    return 0 if reported else 3


if __name__ == '__main__':
    sys.exit(main())
