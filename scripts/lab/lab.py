#!/usr/bin/env python3
"""swtorrent's multi-site network lab (issue 11): sites on bridges, a router between them, shaped WAN links.

    scripts/lab/lab.py SCENARIO [SCENARIO ...] [options]      # build, run, tear down; print a table
    scripts/lab/lab.py list                                   # the scenarios and what they measure
    scripts/lab/lab.py clean TAG                              # remove what a killed run left (namespaces swl-TAG-*)

Needs root (network namespaces, bridges, tc) and iproute2. Everything lives in namespaces the lab creates and
deletes (`swl-<tag>-*`, tag random per run); the host's own interfaces, addresses and routes are never touched, so
several labs can run at once. Topology (site i = 1 A, 2 B, 3 C):

    node ns --veth--> [br0 in the site's gateway ns, 10.251.i.1/24] --WAN veth (tbf each way)--> router ns
                                                                                                  (routes all sites)
    nodes 10.251.i.10, .11, ...; WAN link i: router 10.251.0.(4i+1)/30, gateway 10.251.0.(4i+2)/30

LAN traffic stays on a site's bridge (unshaped, multicast flooded, so BEP 14 works inside a site and TTL 1 keeps it
there); everything between sites crosses two WAN links, each shaped by `tc tbf` on both ends (egress of the gateway:
the site's upload; egress of the router: its download). The byte counters are the gateway's WAN interface counters
(`ip -s link`: rx = into the site, tx = out of it), read just before the first leecher starts and when the last one
completes. The tracker (`swtorrent tracker`, passkey announce URL) runs in site A. See Docs/lab.md.
"""
import argparse
import filecmp
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

EXIT_FAILED = 1       # a scenario ran and a node failed, or (--check) a target was missed
EXIT_USAGE = 2        # bad arguments
EXIT_UNAVAILABLE = 3  # the lab cannot be built here: not root, no ip/tc, namespaces or tbf refused

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SITES = {'A': 1, 'B': 2, 'C': 3}
BT_PORT = 6881
TRACKER_PORT = 6969
LAN_HOP_BPS = 1e9  # "one LAN hop" of the lower bound: a piece over a 1 Gbit/s LAN (a veth bridge is faster)
COMMAND_TIMEOUT = 20


class Unavailable(Exception):
    """The lab cannot be built on this machine (exit 3)."""


class LabError(Exception):
    """A step of building or running the lab failed (exit 1)."""


def log(message):
    print(f'lab: {message}', file=sys.stderr, flush=True)


def run(argv, timeout=COMMAND_TIMEOUT, check=True):
    """Runs a command (bounded); returns its stdout. With check, a non-zero exit raises LabError naming it."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f'{" ".join(argv)}: no answer within {timeout} s')
    if check and done.returncode != 0:
        raise LabError(f'{" ".join(argv)}: exit {done.returncode}: {done.stderr.strip()}')
    return done.stdout


def wait_until(condition, timeout, step=0.1):
    """Polls condition() until it is true or timeout seconds have passed; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = condition()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(step)


def parse_size(text):
    units = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}
    text = text.strip().upper().removesuffix('IB').removesuffix('B')
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def parse_rate(text):
    """'50mbit' -> bits/s (tc's units: kbit, mbit, gbit, powers of 1000)."""
    units = {'kbit': 1e3, 'mbit': 1e6, 'gbit': 1e9, 'bit': 1}
    for suffix, factor in units.items():
        if text.lower().endswith(suffix):
            return float(text[:-len(suffix)]) * factor
    raise ValueError(f'rate {text!r}: use tc units, e.g. 50mbit')


def preflight():
    """Refuses clearly when the lab cannot be built here (exit 3)."""
    if os.geteuid() != 0:
        raise Unavailable('needs root (network namespaces, bridges and tc shaping): run it as root, e.g. '
                          f'sudo {sys.argv[0]} ...')
    for tool in ('ip', 'tc', 'ss'):
        if shutil.which(tool) is None:
            raise Unavailable(f'`{tool}` is not installed (iproute2; scripts/install-deps.sh installs it)')


# ---------------------------------------------------------------------------------------------------------------
# The topology


class Lab:
    """The namespaces, links and shaping of one run; `teardown()` removes all of it (also after a failure)."""

    def __init__(self, sites, rate, workdir):
        self.tag = secrets.token_hex(3)
        self.sites = sites
        self.rate = rate
        self.workdir = workdir
        self.namespaces = []
        self.nodes = {}          # name -> (namespace, address, site)
        self.next_host = {s: 10 for s in sites}
        self.processes = []

    def ns(self, name):
        return f'swl-{self.tag}-{name}'

    def add_namespace(self, name):
        ns = self.ns(name)
        try:
            run(['ip', 'netns', 'add', ns])
        except LabError as error:
            raise Unavailable(f'`ip netns add` failed (needs root or CAP_NET_ADMIN): {error}')
        self.namespaces.append(ns)
        run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
        return ns

    def build(self):
        router = self.add_namespace('r')
        run(['ip', 'netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
        for site in self.sites:
            i = SITES[site]
            gw = self.add_namespace(f'g{site}')
            run(['ip', 'netns', 'exec', gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
            try:
                run(['ip', '-n', gw, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
            except LabError as error:
                raise Unavailable(f'cannot create a bridge: {error}')
            run(['ip', '-n', gw, 'addr', 'add', f'10.251.{i}.1/24', 'dev', 'br0'])
            run(['ip', '-n', gw, 'link', 'set', 'br0', 'up'])
            # The WAN link: `wan` in the gateway, `s<i>` in the router.
            run(['ip', '-n', router, 'link', 'add', f's{i}', 'type', 'veth', 'peer', 'name', 'wan', 'netns', gw])
            run(['ip', '-n', router, 'addr', 'add', f'10.251.0.{4 * i + 1}/30', 'dev', f's{i}'])
            run(['ip', '-n', gw, 'addr', 'add', f'10.251.0.{4 * i + 2}/30', 'dev', 'wan'])
            run(['ip', '-n', router, 'link', 'set', f's{i}', 'up'])
            run(['ip', '-n', gw, 'link', 'set', 'wan', 'up'])
            run(['ip', '-n', gw, 'route', 'add', 'default', 'via', f'10.251.0.{4 * i + 1}'])
            run(['ip', '-n', router, 'route', 'add', f'10.251.{i}.0/24', 'via', f'10.251.0.{4 * i + 2}'])
            for ns, dev in ((gw, 'wan'), (router, f's{i}')):
                self.shape(ns, dev)

    def shape(self, ns, dev):
        """tbf at the lab's rate on dev's egress: 64 KiB burst (a GSO super-packet passes whole), 100 ms queue."""
        try:
            run(['tc', '-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', self.rate, 'burst', '64kb',
                 'latency', '100ms'])
        except LabError as error:
            raise Unavailable(f'tc tbf refused (kernel without sch_tbf?): {error}')

    def add_node(self, site, name):
        """A host on site's bridge: its own namespace, `eth0` at the next address, default route via the gateway."""
        i = SITES[site]
        host = self.next_host[site]
        self.next_host[site] += 1
        address = f'10.251.{i}.{host}'
        ns = self.add_namespace(name)
        gw = self.ns(f'g{site}')
        port = f'n{host}'
        run(['ip', '-n', gw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
        run(['ip', '-n', gw, 'link', 'set', port, 'master', 'br0'])
        run(['ip', '-n', gw, 'link', 'set', port, 'up'])
        run(['ip', '-n', ns, 'addr', 'add', f'{address}/24', 'dev', 'eth0'])
        run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'])
        run(['ip', '-n', ns, 'route', 'add', 'default', 'via', f'10.251.{i}.1'])
        self.nodes[name] = (ns, address, site)
        return address

    def block(self, site, address):
        """Makes address unreachable from site (an `unreachable` route in its gateway: connects fail at once)."""
        run(['ip', '-n', self.ns(f'g{site}'), 'route', 'add', 'unreachable', f'{address}/32'])

    def wan_counters(self):
        """{site: (bytes into the site, bytes out of it)} from the gateway's WAN interface."""
        counters = {}
        for site in self.sites:
            info = json.loads(run(['ip', '-n', self.ns(f'g{site}'), '-s', '-j', 'link', 'show', 'dev', 'wan']))
            stats = info[0]['stats64']
            counters[site] = (stats['rx']['bytes'], stats['tx']['bytes'])
        return counters

    def start(self, node, argv, label=None, env=None):
        ns = self.nodes[node][0]
        process = Node(label or node, ['ip', 'netns', 'exec', ns] + argv, self.workdir, env)
        self.processes.append(process)
        return process

    def listening(self, node, port, timeout):
        ns = self.nodes[node][0]
        return wait_until(
            lambda: f':{port} ' in run(['ip', 'netns', 'exec', ns, 'ss', '-ltnH'], check=False), timeout, 0.2)

    def teardown(self):
        # SIGTERM to every process at once (leechers first, the tracker last), then up to 5 s for all to exit.
        for process in reversed(self.processes):
            process.terminate()
        deadline = time.monotonic() + 5
        for process in reversed(self.processes):
            process.stop(grace=max(0.0, deadline - time.monotonic()))
        for ns in reversed(self.namespaces):
            delete_namespace(ns)
        left = [ns for ns in self.namespaces if os.path.exists(f'/run/netns/{ns}')]
        self.namespaces = []
        if left:
            log(f'could not delete {", ".join(left)}')
        return not left


def delete_namespace(ns):
    """Kills by pid what is still in one of the lab's namespaces (only this run started anything there), then
    deletes the namespace and with it its links."""
    for pid in run(['ip', 'netns', 'pids', ns], check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    run(['ip', 'netns', 'del', ns], check=False)


def clean(tag):
    """Removes the namespaces a killed run with this tag left behind (and the processes inside them)."""
    names = sorted(os.listdir('/run/netns')) if os.path.isdir('/run/netns') else []
    ours = [name for name in names if name.startswith(f'swl-{tag}-')]
    for name in ours:
        delete_namespace(name)
    print(f'removed {len(ours)} namespaces of lab {tag}')


class Node:
    """One process in a lab namespace: stdout read line by line (JSON events timestamped), stderr to a log file."""

    def __init__(self, label, argv, workdir, env=None):
        self.label = label
        self.events = []
        self.lines = []          # stdout lines that are not JSON (an HTTP server's request log)
        self.percent = 0.0
        self.completed_at = None
        self.log_path = os.path.join(workdir, f'{label}.log')
        self.log = open(self.log_path, 'w')
        environment = dict(os.environ, **(env or {}))
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
                                        text=True, env=environment)
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for line in self.process.stdout:
            if not line.startswith('{'):
                self.lines.append(line.rstrip('\n'))
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.events.append(event)
            if event.get('event') == 'progress':
                self.percent = float(event.get('percent') or 0)
            elif event.get('event') == 'complete' and self.completed_at is None:
                self.percent = 100.0
                self.completed_at = time.monotonic()

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def terminate(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)

    def stop(self, grace=5):
        """SIGTERM, up to grace seconds to exit, then SIGKILL (bounded: 5 s more)."""
        self.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.reader.join(2)
        self.log.close()

    def kill(self):
        """SIGKILL at once: the process is lost, not shut down (it announces nothing)."""
        if self.alive():
            self.process.kill()
            self.process.wait(5)

    def tail(self, lines=15):
        try:
            with open(self.log_path) as handle:
                return ''.join(handle.readlines()[-lines:])
        except OSError:
            return ''


# ---------------------------------------------------------------------------------------------------------------
# swtorrent and libtorrent on the lab


class Features:
    """What the swtorrent binary under test supports, read from its --help (the scenarios name what is missing)."""

    def __init__(self, binary):
        seed = run([binary, 'seed', '--help'], check=False)
        leech = run([binary, 'leech', '--help'], check=False)
        self.lsd_flag = '--lsd-interface' in leech and '--lsd-interface' in seed
        self.lan_first = '--no-lan-first' in leech
        self.authenticated = '--allow-plain-peers' in leech and '--allow ' in seed

    def missing(self, *wanted):
        names = {'lan_first': '--no-lan-first (LAN-first selection, engineer lanfirst)',
                 'authenticated': '--key/--allow/--allow-plain-peers (authenticated swarms, issue 10, engineer tls)'}
        return [names[w] for w in wanted if not getattr(self, w)]


class Swarm:
    """The torrent, the tracker in site A and the commands that start seeds and leechers on lab nodes."""

    def __init__(self, lab, args, private=False):
        self.lab = lab
        self.args = args
        self.binary = args.binary
        self.features = args.features
        self.size = args.size
        self.piece_length = args.piece_length or (256 << 10 if self.size >= 32 << 20 else 64 << 10)
        self.content_dir = os.path.join(lab.workdir, 'content')
        os.makedirs(self.content_dir)
        self.name = 'release.bin'
        write_random(os.path.join(self.content_dir, self.name), self.size)
        self.tracker_address = lab.add_node('A', 'A-tracker')
        passkey = secrets.token_hex(16)
        self.allowlist = os.path.join(lab.workdir, 'allowlist')
        with open(self.allowlist, 'w') as handle:
            handle.write(f'passkey {passkey} lab\n')
        self.keys = {}        # node -> (key file, allowlist file) for nodes with an identity
        self.torrent = os.path.join(lab.workdir, 'release.torrent')
        # Public: everyone announces with the passkey. Private: swtorrent nodes sign their announces (--key).
        path = 'announce' if private else f'{passkey}/announce'
        announce = f'http://{self.tracker_address}:{TRACKER_PORT}/{path}'
        run([self.binary, 'make', os.path.join(self.content_dir, self.name), '-a', announce, '--piece-length',
             str(self.piece_length), '--no-date', '-o', self.torrent] + (['--private'] if private else []), 120)

    def enrol(self, node, listed=True):
        """A node key for node (`swtorrent keygen`). Listed: its public key goes on the shared allowlist (enrol every
        node before the tracker starts). Unlisted: only its own allowlist (the shared one plus itself) has it."""
        key = os.path.join(self.lab.workdir, f'{node}.key')
        run([self.binary, 'keygen', '--out', key, '--name', node], 60)
        with open(key + '.pub') as handle:
            public = handle.read()
        allowlist = self.allowlist
        if listed:
            with open(self.allowlist, 'a') as handle:
                handle.write(public)
        else:
            allowlist = os.path.join(self.lab.workdir, f'allowlist-{node}')
            with open(self.allowlist) as shared, open(allowlist, 'w') as handle:
                handle.write(shared.read() + public)
        self.keys[node] = (key, allowlist)

    def identity(self, node):
        """`--key K --allow LIST` for a node with a key, nothing for the others."""
        if node not in self.keys:
            return []
        key, allowlist = self.keys[node]
        return ['--key', key, '--allow', allowlist]

    def start_tracker(self):
        tracker = self.lab.start('A-tracker', [
            self.binary, 'tracker', '--listen', f'{self.tracker_address}:{TRACKER_PORT}', '--allow', self.allowlist,
            '--interval', '10'])
        if not self.lab.listening('A-tracker', TRACKER_PORT, 30):
            raise LabError(f'the tracker did not listen within 30 s: {tracker.tail()}')
        return tracker

    def lsd(self):
        """LSD on the node's LAN interface: the flag when the binary has it, else the test-only variable."""
        if self.features.lsd_flag:
            return ['--lsd-interface', 'eth0'], None
        return [], {'SWTORRENT_LSD_INTERFACE': 'eth0'}

    def seed(self, node, data_dir=None):
        flags, env = self.lsd()
        process = self.lab.start(node, [self.binary, 'seed', self.torrent, '--data', data_dir or self.content_dir,
                                        '--port', str(BT_PORT), '--verbose'] + flags + self.identity(node),
                                 env=env)
        if not self.lab.listening(node, BT_PORT, 120):
            raise LabError(f'{node}: the seed did not listen within 120 s: {process.tail()}')
        return process

    def leech(self, node, extra=()):
        flags, env = self.lsd()
        out = os.path.join(self.lab.workdir, f'out-{node}')
        return self.lab.start(node, [
            self.binary, 'leech', self.torrent, '--out', out, '--port', str(BT_PORT), '--json', '--verbose',
            '--allow-unsigned', '--seed-after', '1h', '--stall-timeout', f'{self.args.timeout}s'] + flags
            + self.identity(node) + list(extra), env=env)

    def libtorrent(self, node, mode='leech'):
        address = self.lab.nodes[node][1]
        save = self.content_dir if mode == 'seed' else os.path.join(self.lab.workdir, f'out-{node}')
        os.makedirs(save, exist_ok=True)
        return self.lab.start(node, ['/usr/bin/python3', os.path.join(HERE, 'lt_node.py'), mode, self.torrent, save,
                                     address, str(BT_PORT), '1', str(self.args.timeout + 60)])

    def lower_bound(self):
        """Seconds: the content over one WAN link at the lab's rate, plus one piece over the LAN."""
        return self.size * 8 / parse_rate(self.args.rate) + self.piece_length * 8 / LAN_HOP_BPS


def write_random(path, size):
    with open(path, 'wb') as handle:
        left = size
        while left:
            chunk = min(left, 4 << 20)
            handle.write(os.urandom(chunk))
            left -= chunk


def wait_complete(leechers, timeout, on_tick=None):
    """Waits (bounded) until every leecher reported complete or one exited without; returns the incomplete."""
    def settled():
        if on_tick:
            on_tick()
        return all(p.completed_at is not None or not p.alive() for p in leechers)
    wait_until(settled, timeout, 0.2)
    return [p for p in leechers if p.completed_at is None]


# ---------------------------------------------------------------------------------------------------------------
# Scenarios: each returns a list of result rows (dicts)


def rollout_rows(args, stagger, variants, sites_leechers, kill_at=None, label='rollout'):
    rows = []
    for variant in variants:
        rows.append(run_rollout(args, variant, stagger, sites_leechers, kill_at, label))
    return rows


def run_rollout(args, variant, stagger, sites_leechers, kill_at, label):
    """One seed in A (plus, with kill_at, a second seed in C and A's seed killed at kill_at % of site B's progress),
    leechers per site; WAN ratio per site and time to all complete."""
    row = {'scenario': label, 'variant': variant, 'size': args.size, 'rate': args.rate,
           'leechers': dict(sites_leechers), 'stagger': stagger}
    if variant == 'swtorrent --no-lan-first' and not args.features.lan_first:
        return dict(row, missing=args.features.missing('lan_first'))
    sites = sorted(set(['A'] + list(sites_leechers) + (['C'] if kill_at is not None else [])))
    with LabRun(args, sites) as lab:
        row['lab'] = lab.tag
        swarm = Swarm(lab, args)
        swarm.start_tracker()
        seeds = {}
        seed_nodes = ['A-seed'] + (['C-seed'] if kill_at is not None else [])
        for node in seed_nodes:
            lab.add_node(node[0], node)
        names = {site: [f'{site}{k + 1}' for k in range(count)] for site, count in sites_leechers.items()}
        for site, nodes in names.items():
            for node in nodes:
                lab.add_node(site, node)
        for node in seed_nodes:
            seeds[node] = swarm.libtorrent(node, 'seed') if variant == 'libtorrent' else swarm.seed(node)
        if variant == 'libtorrent':
            for node in seed_nodes:
                if not lab.listening(node, BT_PORT, 60):
                    raise LabError(f'{node}: libtorrent seed did not listen: {seeds[node].tail()}')
        before = lab.wan_counters()
        start = time.monotonic()
        leechers = {}
        order = [node for site in sorted(names) for node in names[site]]
        for index, node in enumerate(order):
            if stagger and index:
                time.sleep(stagger)
            if variant == 'libtorrent':
                leechers[node] = swarm.libtorrent(node)
            else:
                extra = ['--no-lan-first'] if variant == 'swtorrent --no-lan-first' else []
                leechers[node] = swarm.leech(node, extra)
        killed = {}

        def watch():
            if kill_at is None or killed:
                return
            b = [leechers[n] for n in names['B']]
            mean = sum(p.percent for p in b) / len(b)
            if mean >= kill_at:
                seeds['A-seed'].kill()
                killed['at'] = round(mean, 1)
        incomplete = wait_complete(list(leechers.values()), args.timeout, watch)
        row['killedAtPercent'] = killed.get('at')
        report(row, swarm, names, leechers, start, before, incomplete)
    return row


def report(row, swarm, names, leechers, start, before, incomplete):
    """Fills row with the run's figures: per site the bytes into and out of it and when its leechers completed;
    the time until all completed, the lower bound, what failed, whether every copy equals the content, and where
    swtorrent leechers' peers came from (their `peer connected … source=` log lines)."""
    lab = swarm.lab
    after = lab.wan_counters()
    row['lowerBound'] = round(swarm.lower_bound(), 2)
    row['sites'] = {}
    for site, nodes in names.items():
        into = after[site][0] - before[site][0]
        times = [leechers[n].completed_at - start for n in nodes if leechers[n].completed_at]
        row['sites'][site] = {
            'wanIn': into, 'wanOut': after[site][1] - before[site][1], 'ratio': round(into / swarm.size, 3),
            'complete': len(times), 'allCompleteSeconds': round(max(times), 2) if len(times) == len(nodes) else None,
            'firstCompleteSeconds': round(min(times), 2) if times else None}
    done = [p.completed_at - start for p in leechers.values() if p.completed_at]
    row['allCompleteSeconds'] = round(max(done), 2) if not incomplete else None
    row['failed'] = [f'{p.label}: {"exited " + str(p.process.returncode) if not p.alive() else "timed out"} at '
                     f'{p.percent:.0f}%: {p.tail(5)}' for p in incomplete]
    sources = set()
    for process in leechers.values():
        with open(process.log_path) as handle:
            for line in handle:
                if 'peer connected' in line and 'source=' in line:
                    sources.add(line.split('source=')[1].split()[0].strip('",]'))
    row['peerSources'] = sorted(sources)
    row['ok'] = not incomplete
    row['verified'] = verify_copies(swarm, list(leechers)) if not incomplete else False
    for site, nodes in names.items():
        payload = wan_payload(swarm, site, nodes)
        if payload is not None:
            row['sites'][site]['wanPayloadByLeecher'] = payload
            row['sites'][site]['payloadRatio'] = round(sum(payload.values()) / swarm.size, 3)


def wan_payload(swarm, site, nodes):
    """{leecher: verified bytes it got from peers outside its site}, from each swtorrent leecher's audit log (the
    bytes each peer supplied, `peers` in Docs/signing.md), or None when a leecher has none (libtorrent, or it did not
    finish). The lab routes only IPv4 between sites, so an IPv6 peer is a neighbour. Against the counters this
    splits the WAN bytes into payload and the rest (headers, protocol, blocks fetched twice)."""
    prefix = f'10.251.{SITES[site]}.'
    result = {}
    for node in nodes:
        path = os.path.join(swarm.lab.workdir, f'.out-{node}.swtorrent-gate', 'audit.jsonl')
        if not wait_until(lambda: os.path.exists(path), 10, 0.2):
            return None
        total = 0
        with open(path) as handle:
            for line in handle:
                for peer in json.loads(line).get('peers', []):
                    address = peer.get('peer', '')
                    if not address.startswith('[') and not address.startswith(prefix):
                        total += int(peer.get('bytes', 0))
        result[node] = total
    return result


def verify_copies(swarm, nodes):
    """Every leecher's released file equals the content. swtorrent renames the file into --out after its `complete`
    line (the gate releases it), so each copy gets up to 30 s to appear; libtorrent saves there as it goes."""
    with open(os.path.join(swarm.content_dir, swarm.name), 'rb') as handle:
        original = handle.read()
    for node in nodes:
        path = os.path.join(swarm.lab.workdir, f'out-{node}', swarm.name)
        wait_until(lambda: os.path.exists(path), 30, 0.2)
        try:
            with open(path, 'rb') as handle:
                if handle.read() != original:
                    return False
        except OSError:
            return False
    return True


def tracker_down(args):
    """The tracker is unreachable from site B; one B node holds the artifact; the others complete through LSD."""
    count = args.leechers or 4
    row = {'scenario': 'tracker-down', 'variant': 'swtorrent', 'size': args.size, 'rate': args.rate,
           'leechers': {'B': count}}
    with LabRun(args, ['A', 'B']) as lab:
        row['lab'] = lab.tag
        swarm = Swarm(lab, args)
        swarm.start_tracker()
        lab.add_node('A', 'A-seed')
        lab.add_node('B', 'B-holder')
        names = {'B': [f'B{k + 1}' for k in range(count)]}
        for node in names['B']:
            lab.add_node('B', node)
        lab.block('B', swarm.tracker_address)
        swarm.seed('A-seed')
        swarm.seed('B-holder')
        before = lab.wan_counters()
        start = time.monotonic()
        leechers = {node: swarm.leech(node) for node in names['B']}
        incomplete = wait_complete(list(leechers.values()), args.timeout)
        report(row, swarm, names, leechers, start, before, incomplete)
        row['lowerBound'] = None  # nothing has to cross the WAN here
    return [row]


def private(args):
    """The rollout on a private torrent: every node has a node key on the allowlist (tracker and peers), except
    B-intruder, whose key is on no one's list but its own. The listed leechers complete (through the authenticated
    transport, local discovery feeding each of them peers); the intruder verifies nothing. The intruder runs
    discovery for the torrent too (it has
    a key and an allowlist), so it hears B's announcements and dials them, and B's nodes hear it: every such
    connection fails its TLS handshake on the intruder's key, which the listed nodes log as `peer certificate
    refused` (counted in the row)."""
    count = args.leechers or 8
    row = {'scenario': 'private', 'variant': 'swtorrent', 'size': args.size, 'rate': args.rate,
           'leechers': {'B': count}}
    missing = args.features.missing('authenticated')
    if missing:
        return [dict(row, missing=missing)]
    with LabRun(args, ['A', 'B']) as lab:
        row['lab'] = lab.tag
        swarm = Swarm(lab, args, private=True)
        lab.add_node('A', 'A-seed')
        names = {'B': [f'B{k + 1}' for k in range(count)]}
        for node in ['A-seed'] + names['B']:
            if node != 'A-seed':
                lab.add_node('B', node)
            swarm.enrol(node)
        lab.add_node('B', 'B-intruder')
        swarm.enrol('B-intruder', listed=False)
        swarm.start_tracker()
        seed = swarm.seed('A-seed')
        before = lab.wan_counters()
        start = time.monotonic()
        leechers = {node: swarm.leech(node) for node in names['B']}
        intruder = swarm.leech('B-intruder')
        incomplete = wait_complete(list(leechers.values()), args.timeout)
        report(row, swarm, names, leechers, start, before, incomplete)
        verified = [e.get('verifiedBytes') for e in intruder.events if 'verifiedBytes' in e]
        downloaded = [e.get('downloaded') for e in intruder.events if 'downloaded' in e]
        row['intruderVerifiedBytes'] = verified[-1] if verified else 0
        row['intruderDownloaded'] = downloaded[-1] if downloaded else 0
        row['intruderComplete'] = intruder.completed_at is not None
        listed = [seed] + list(leechers.values())
        # The intruder's dials and the listed nodes' dials to it race the download: give them 15 s at most.
        wait_until(lambda: sum(log_lines(p, 'peer certificate refused') for p in listed) > 0, 15, 0.2)
        row['intruderHeardLsd'] = log_lines(intruder, 'local discovery found a peer') > 0
        # Which listed leechers were fed peers by local discovery (the tracker may have named the same peers first,
        # so `peerSources` need not show `lsd`).
        row['lsdFedLeechers'] = sorted(node for node, p in leechers.items()
                                       if log_lines(p, 'local discovery found a peer') > 0)
        row['intruderRefusals'] = sum(log_lines(p, 'peer certificate refused') for p in listed)
        row['ok'] = (row['ok'] and row['intruderVerifiedBytes'] == 0 and row['intruderDownloaded'] == 0
                     and not row['intruderComplete'])
    return [row]


MIRROR_PORT = 8080
FAULTY_HTTP = os.path.join(REPO, 'Tests', 'TestSupport', 'faulty-http-server.py')
MIRROR_CASES = ['lan-lacks-a-file', 'lan-dies-halfway', 'origin-last']


def mirror_order(args):
    """A release manifest's sources in their order (issue 14 item 2): the fleet node and a LAN mirror in site A; a
    WAN mirror, a WAN seed and the origin in site B. Three cases in one lab, each with a fresh output:
    lan-lacks-a-file (the LAN mirror has main.bin but not extra.bin), lan-dies-halfway (the LAN mirror has both and
    exits after half the content), origin-last (nothing but the origin answers; --allow-origin). Per case: the
    bytes each source was credited with per file (the node's audit log), each mirror's last progress (its `--json`
    events), the requests each HTTP server saw, and the bytes into A over its WAN link. The assertions are
    NetworkLabTests.mirrorsAndPeersServeInOrder's."""
    row = {'scenario': 'mirror-order', 'variant': 'swtorrent', 'size': args.size, 'rate': args.rate,
           'leechers': {'A': 1}, 'cases': {}}
    with LabRun(args, ['A', 'B']) as lab:
        row['lab'] = lab.tag
        binary = args.binary
        work = lab.workdir
        content = os.path.join(work, 'content')
        release = os.path.join(content, 'release')
        os.makedirs(release)
        sizes = {'main.bin': args.size * 3 // 4, 'extra.bin': args.size - args.size * 3 // 4}
        for name, size in sizes.items():
            write_random(os.path.join(release, name), size)
        # The LAN mirror of the first case lacks extra.bin.
        partial = os.path.join(work, 'lan-partial')
        os.makedirs(os.path.join(partial, 'release'))
        shutil.copyfile(os.path.join(release, 'main.bin'), os.path.join(partial, 'release', 'main.bin'))
        addresses = {}
        for node in ('A-node', 'A-mirror'):
            addresses[node] = lab.add_node('A', node)
        for node in ('B-mirror', 'B-origin', 'B-seed'):
            addresses[node] = lab.add_node('B', node)
        urls = {role: f'http://{addresses[node]}:{MIRROR_PORT}/' for role, node in
                (('lan-mirror', 'A-mirror'), ('wan-mirror', 'B-mirror'), ('origin', 'B-origin'))}
        roles = {url: role for role, url in urls.items()}
        roles[f'{addresses["B-seed"]}:{BT_PORT}'] = 'wan-peer'
        key = os.path.join(work, 'release.key')
        run([binary, 'keygen', '--signing', 'cosign', '--out', key, '--unencrypted'], 60)
        torrent = os.path.join(work, 'release.torrent')
        manifest = os.path.join(work, 'release.manifest')
        run([binary, 'make', release, '--sign', key, '--manifest', manifest, '--version', '1.0.0', '--expires', '1h',
             '--mirror', 'A=' + urls['lan-mirror'], '--mirror', 'B=' + urls['wan-mirror'], '--origin',
             urls['origin'], '--piece-length', str(args.piece_length or 64 << 10), '--no-date', '-o', torrent], 120)
        row['files'] = {f'release/{name}': size for name, size in sizes.items()}
        row['roles'] = roles
        for case in MIRROR_CASES:
            row['cases'][case] = mirror_case(lab, args, case, addresses, roles, content, partial, key, torrent,
                                             manifest)
    cases = row['cases'].values()
    row['ok'] = all(c['complete'] for c in cases)
    row['verified'] = all(c['verified'] for c in cases)
    row['failed'] = [f'{name}: {c["failure"]}' for name, c in row['cases'].items() if not c['complete']]
    return [row]


def mirror_case(lab, args, case, addresses, roles, content, partial, key, torrent, manifest):
    """One case of mirror-order: starts its servers and seed, leeches the manifest in A-node, stops them all."""
    work = lab.workdir
    started = {}
    try:
        servers = {'lan-mirror': ('A-mirror', partial if case == 'lan-lacks-a-file' else content,
                                  ['--die-after', str(args.size // 2)] if case == 'lan-dies-halfway' else []),
                   'wan-mirror': ('B-mirror', content, []),
                   'origin': ('B-origin', content, [])}
        for role, (node, root, faults) in servers.items():
            if case == 'origin-last' and role != 'origin':
                continue  # nothing listens there: connections are refused
            started[role] = lab.start(node, ['/usr/bin/python3', '-u', FAULTY_HTTP, '--root', root, '--listen',
                                             '0.0.0.0', '--port', str(MIRROR_PORT), '--port-file',
                                             os.path.join(work, f'port-{case}-{role}'), '--lifetime',
                                             str(args.timeout + 60)] + faults, label=f'{case}-{role}')
            if not lab.listening(node, MIRROR_PORT, 30):
                raise LabError(f'{node}: the HTTP server did not listen within 30 s: {started[role].tail()}')
        peers = []
        if case != 'origin-last':
            started['wan-peer'] = lab.start('B-seed', [args.binary, 'seed', torrent, '--data', content, '--port',
                                                       str(BT_PORT), '--no-tracker', '--no-lsd'],
                                            label=f'{case}-wan-peer')
            if not lab.listening('B-seed', BT_PORT, 120):
                raise LabError(f'B-seed did not listen within 120 s: {started["wan-peer"].tail()}')
            peers = ['--peer', f'{addresses["B-seed"]}:{BT_PORT}']
        out = os.path.join(work, f'out-{case}')
        before = lab.wan_counters()
        start = time.monotonic()
        node = lab.start('A-node', [
            args.binary, 'leech', manifest, '--out', out, '--trust', key[:-len('.key')] + '.pub', '--state-dir',
            os.path.join(work, f'state-{case}'), '--allow-origin', '--site', 'A', '--json', '--verbose',
            '--port', str(BT_PORT), '--no-tracker', '--no-lsd', '--stall-timeout', f'{args.timeout}s']
            + peers, label=f'{case}-node')
        wait_until(lambda: not node.alive(), args.timeout + 30, 0.2)
        after = lab.wan_counters()
        result = {'complete': node.completed_at is not None and node.process.poll() == 0, 'start': start,
                  'seconds': round(node.completed_at - start, 2) if node.completed_at else None,
                  'exit': node.process.poll(), 'wanIn': after['A'][0] - before['A'][0]}
        result['failure'] = '' if result['complete'] else f'exit {result["exit"]}: {node.tail(8)}'
        result['verified'] = all(
            filecmp.cmp(os.path.join(content, 'release', name), os.path.join(out, 'release', name), shallow=False)
            if os.path.exists(os.path.join(out, 'release', name)) else False
            for name in os.listdir(os.path.join(content, 'release')))
        # Verified bytes per file per source (role), from the audit log.
        credits = {}
        audit = os.path.join(work, f'.out-{case}.swtorrent-gate', 'audit.jsonl')
        if os.path.exists(audit):
            with open(audit) as handle:
                for line in handle:
                    record = json.loads(line)
                    per = credits.setdefault(record.get('file', '?'), {})
                    for peer in record.get('peers') or []:
                        role = roles.get(peer.get('peer', ''), peer.get('peer', '?'))
                        per[role] = per.get(role, 0) + int(peer.get('bytes', 0))
        result['credits'] = credits
        progress = [e for e in node.events if e.get('mirrors') is not None]
        result['mirrors'] = {roles.get(m['url'], m['url']): {k: m.get(k) for k in
                                                             ('locality', 'state', 'bytes', 'reason', 'origin')}
                             for m in (progress[-1]['mirrors'] if progress else [])}
        # Each mirror's state over the run, one entry per change (from the progress events).
        timeline = {}
        for event in progress:
            for m in event['mirrors']:
                states = timeline.setdefault(roles.get(m['url'], m['url']), [])
                if not states or states[-1] != m.get('state'):
                    states.append(m.get('state'))
        result['mirrorStates'] = timeline
        for role in ('wan-peer',):
            if role in started:
                started[role].stop()
        for role, server in started.items():
            if role == 'wan-peer':
                continue
            server.stop()
            # [monotonic seconds (the lab's clock too), status, path] per request, in order of arrival.
            result.setdefault('requests', {})[role] = [
                [float(f[1]), int(f[2]), f[3]] for f in (line.split(' ', 4) for line in server.lines)
                if len(f) == 5 and f[0] == 'REQ']
        for role in servers:
            result.setdefault('requests', {}).setdefault(role, [])
        return result
    finally:
        for process in started.values():
            if process.alive():
                process.stop()


def log_lines(process, marker):
    """How many lines of a node's log contain marker."""
    try:
        with open(process.log_path) as handle:
            return sum(1 for line in handle if marker in line)
    except OSError:
        return 0


class LabRun:
    """A Lab built on entry and torn down on exit, whatever happened (the workdir goes too unless --keep)."""

    def __init__(self, args, sites):
        self.args = args
        self.sites = sites

    def __enter__(self):
        self.workdir = tempfile.mkdtemp(prefix='swt-lab-', dir=self.args.workdir)
        self.lab = Lab(self.sites, self.args.rate, self.workdir)
        ACTIVE.append(self.lab)
        log(f'lab {self.lab.tag}: sites {",".join(self.sites)}, WAN {self.args.rate} each way, files in '
            f'{self.workdir}')
        try:
            self.lab.build()
        except BaseException:
            self.__exit__()
            raise
        return self.lab

    def __exit__(self, *_):
        clean_ok = self.lab.teardown()
        ACTIVE.remove(self.lab)
        if not clean_ok:
            raise LabError(f'lab {self.lab.tag}: namespaces left behind (scripts/lab/lab.py clean {self.lab.tag})')
        if self.args.keep:
            log(f'kept {self.workdir}')
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return False


ACTIVE = []

VARIANTS = ['swtorrent', 'swtorrent --no-lan-first', 'libtorrent']

SCENARIOS = {
    'baseline': ('one seed in A, one swtorrent leecher in B: the counters against the content (ratio ~1.0)',
                 lambda a: rollout_rows(a, 0, ['swtorrent'], {'B': 1}, label='baseline')),
    'rollout': ('seed in A, 8 leechers in B started together: WAN into B / content, time to all complete; '
                'swtorrent (LAN-first), swtorrent --no-lan-first, libtorrent with LSD',
                lambda a: rollout_rows(a, 0, a.variants or VARIANTS, {'B': a.leechers or 8})),
    'staggered': ('the rollout with leechers starting 3 s apart',
                  lambda a: rollout_rows(a, a.stagger, a.variants or VARIANTS, {'B': a.leechers or 8},
                                         label='staggered')),
    'two-sites': ('seed in A, 4 leechers in B and 4 in C: each site\'s WAN ratio and completion',
                  lambda a: rollout_rows(a, 0, a.variants or ['swtorrent'],
                                         {'B': a.leechers or 4, 'C': a.leechers or 4}, label='two-sites')),
    'tracker-down': ('tracker unreachable from B, one B node holds the artifact: the others complete via LSD',
                     tracker_down),
    'seed-lost': ('A\'s seed killed at 50 % of B\'s progress; B finishes from what it holds plus a seed in C',
                  lambda a: rollout_rows(a, 0, a.variants or ['swtorrent'], {'B': a.leechers or 8}, kill_at=50,
                                         label='seed-lost')),
    'private': ('the rollout with a private torrent and node keys; an unlisted B node gets nothing', private),
    'mirror-order': ('a release manifest in A: LAN mirror, then WAN peer and mirror, then the origin (3 cases)',
                     mirror_order),
}


# ---------------------------------------------------------------------------------------------------------------
# Output


def table(rows, lan_first):
    header = ['scenario', 'variant', 'site', 'leechers', 'WAN in (MiB)', 'ratio', 'payload', 'all complete (s)',
              'bound (s)', 'x bound', 'notes']
    lines = []
    for row in rows:
        if row.get('missing'):
            lines.append([row['scenario'], row['variant'], '', '', '', '', '', '', '', '',
                          'NOT RUN: binary lacks ' + '; '.join(row['missing'])])
            continue
        for name, case in row.get('cases', {}).items():
            # mirror-order: one line per case; the notes say which source supplied how many MiB of each file.
            supplied = '; '.join(f'{file.split("/")[-1]}: ' + ', '.join(f'{role} {n / 2**20:.1f}'
                                                                          for role, n in sorted(per.items()))
                                 for file, per in sorted(case['credits'].items()))
            lines.append([row['scenario'], name, 'A', '1', f'{case["wanIn"] / 2**20:.1f}',
                          f'{case["wanIn"] / row["size"]:.3f}', '',
                          f'{case["seconds"]:.1f}' if case['seconds'] is not None else 'incomplete', '', '',
                          supplied if case['complete'] else f'FAILED: {case["failure"][:200]}'])
        for site, figures in sorted(row.get('sites', {}).items()):
            done = figures.get('allCompleteSeconds')
            bound = row.get('lowerBound')
            notes = []
            if row['variant'] == 'swtorrent' and not lan_first:
                notes.append('this binary has no LAN-first')
            if row.get('killedAtPercent') is not None:
                notes.append(f'A seed killed at {row["killedAtPercent"]}%')
            if row.get('intruderVerifiedBytes') is not None:
                notes.append(f'unlisted node verified {row["intruderVerifiedBytes"]} bytes, its key refused '
                             f'{row.get("intruderRefusals", 0)} times')
            if row.get('peerSources'):
                notes.append('peer sources: ' + ','.join(row['peerSources']))
            if row.get('failed'):
                notes.append(f'FAILED: {len(row["failed"])} incomplete')
            elif not row.get('verified'):
                notes.append('FAILED: a copy differs from the content')
            lines.append([row['scenario'], row['variant'], site, str(row['leechers'].get(site, '')),
                          f'{figures["wanIn"] / 2**20:.1f}', f'{figures["ratio"]:.3f}',
                          f'{figures["payloadRatio"]:.3f}' if 'payloadRatio' in figures else '',
                          f'{done:.1f}' if done is not None else f'{figures["complete"]} done',
                          f'{bound:.1f}' if bound else '', f'{done / bound:.2f}' if done and bound else '',
                          '; '.join(notes)])
    widths = [max(len(header[i]), *(len(line[i]) for line in lines)) if lines else len(header[i])
              for i in range(len(header))]
    out = ['  '.join(h.ljust(w) for h, w in zip(header, widths))]
    out += ['  '.join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    return '\n'.join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='Scenarios:\n' + '\n'.join(f'  {k:13} {v[0]}' for k, v in
                                                                      SCENARIOS.items()))
    parser.add_argument('scenarios', nargs='+', metavar='SCENARIO', help='list, clean TAG, or scenario names')
    parser.add_argument('--binary', help='the swtorrent binary (default: this tree\'s .build/release, else debug)')
    parser.add_argument('--size', default='64M', help='content size (default 64M)')
    parser.add_argument('--piece-length', default=None, help='piece length (default 256K from 32M up, else 64K)')
    parser.add_argument('--rate', default='50mbit', help='each WAN link, each way, tc units (default 50mbit)')
    parser.add_argument('--leechers', type=int, default=None, help='leechers per remote site (scenario default)')
    parser.add_argument('--stagger', type=float, default=3.0, help='seconds between starts in staggered (3)')
    parser.add_argument('--variant', dest='variants', action='append', choices=VARIANTS,
                        help='only this variant of rollout/staggered/two-sites/seed-lost (repeatable)')
    parser.add_argument('--timeout', type=int, default=300, help='seconds each run may take (default 300)')
    parser.add_argument('--workdir', default=None, help='where the run\'s files go (default: $TMPDIR)')
    parser.add_argument('--keep', action='store_true', help='keep the run\'s files and logs')
    parser.add_argument('--json', action='store_true', help='print the results as JSON (one object) instead')
    parser.add_argument('--check', action='store_true', help='exit 1 when a node failed or a scenario did not run')
    args = parser.parse_args()

    if args.scenarios[0] == 'list':
        for name, (what, _) in SCENARIOS.items():
            print(f'{name:13} {what}')
        return 0
    try:
        preflight()
        if args.scenarios[0] == 'clean':
            if len(args.scenarios) != 2:
                parser.error('clean TAG: the tag a run printed (lab <tag>: ...)')
            clean(args.scenarios[1])
            return 0
    except Unavailable as error:
        print(f'lab.py: lab unavailable: {error}', file=sys.stderr)
        return EXIT_UNAVAILABLE
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f'unknown scenario {", ".join(unknown)} (scripts/lab/lab.py list)')
    try:
        args.size = parse_size(args.size)
        args.piece_length = parse_size(args.piece_length) if args.piece_length else None
        if parse_rate(args.rate) <= 0 or args.size <= 0 or args.timeout <= 0:
            raise ValueError('--rate, --size and --timeout must be positive')
    except ValueError as error:
        parser.error(str(error))
    args.binary = os.path.abspath(args.binary or default_binary())
    if not os.access(args.binary, os.X_OK):
        parser.error(f'{args.binary} is not an executable swtorrent (build it, or pass --binary PATH)')
    args.features = Features(args.binary)

    def stop(signum, _frame):
        raise SystemExit(128 + signum)  # unwinds through every LabRun, which tears its lab down
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    # A parent may have started us with these blocked (the mask survives exec): unblock them, or a SIGTERM would
    # wait until the run ends on its own.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})

    rows = []
    try:
        for scenario in args.scenarios:
            rows += SCENARIOS[scenario][1](args)
    except Unavailable as error:
        print(f'lab.py: lab unavailable: {error}', file=sys.stderr)
        return EXIT_UNAVAILABLE
    except LabError as error:
        print(f'lab.py: {error}', file=sys.stderr)
        return EXIT_FAILED
    finally:
        for lab in list(ACTIVE):
            lab.teardown()
    if args.json:
        features = {'lsdFlag': args.features.lsd_flag, 'lanFirst': args.features.lan_first,
                    'authenticated': args.features.authenticated}
        print(json.dumps({'binary': args.binary, 'rate': args.rate, 'size': args.size, 'features': features,
                          'results': rows}, indent=1))
    else:
        print(f'content {args.size / 2**20:.1f} MiB, WAN {args.rate} each way, binary {args.binary}')
        print(table(rows, args.features.lan_first))
    bad = [r for r in rows if r.get('missing') or not r.get('ok') or not r.get('verified')]
    return EXIT_FAILED if args.check and bad else 0


def default_binary():
    for config in ('release', 'debug'):
        path = os.path.join(REPO, '.build', config, 'swtorrent')
        if os.access(path, os.X_OK):
            return path
    return os.path.join(REPO, '.build', 'debug', 'swtorrent')


if __name__ == '__main__':
    sys.exit(main())
