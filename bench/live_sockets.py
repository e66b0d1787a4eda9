# SPDX-License-Identifier: GPL-3.0-or-later
"""Real connections for the live benchmarks: a network namespace holding N ESTABLISHED loopback connections.

``LiveSockets(namespace, connections, clients, ports)`` creates the namespace (loopback up, a wide ephemeral port
range, a big listen backlog, an nft rule with a ct expression so the namespace tracks connections in conntrack),
starts one server process per service port (127.0.0.1:PORT, it accepts and holds its share) and client processes
that connect from ``clients`` distinct source addresses in 127.16.0.0/12 (all of 127.0.0.0/8 is loopback, so no
address has to be configured). Every client address connects once to every port. One process may hold at most
20,000 descriptors here (the hard RLIMIT_NOFILE), so the sockets are spread over several holder processes. Every
third port's clients set SO_KEEPALIVE, so the keepalive facts are not all alike. Standard library only.

Used as a context manager; leaving it kills the holders and deletes the namespace.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

FIRST_PORT = 5501
MAX_PER_PROCESS = 15000  # descriptors per holder process, under the 20,000 limit with room for the rest

HOLDER = r"""
import os, resource, select, signal, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
role = sys.argv[1]
held = []
if role == "server":
    port, count = int(sys.argv[2]), int(sys.argv[3])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(65535)
    print("listening", flush=True)
    while len(held) < count:
        held.append(listener.accept()[0])
else:
    port, keepalive = int(sys.argv[2]), sys.argv[3] == "1"
    for index in range(int(sys.argv[4]), int(sys.argv[5])):
        client = socket.socket()
        if keepalive:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        client.bind(("127.%d.%d.%d" % (16 + index // 65536, index // 256 % 256, index % 256), 0))
        client.connect(("127.0.0.1", port))
        held.append(client)
print("ready", flush=True)
signal.pause()
"""

RULESET = """table inet netdiag_speed_bench {
  chain output {
    type filter hook output priority 0;
    ct state established accept
  }
}
"""


def client_address(index):
    """The source address of client number ``index`` (as the holder computes it)."""
    return "127.%d.%d.%d" % (16 + index // 65536, index // 256 % 256, index % 256)


def run(*argv, namespace=None, **options):
    command = ["ip", "netns", "exec", namespace, *argv] if namespace else list(argv)
    return subprocess.run(command, check=True, capture_output=True, text=True, **options)


class LiveSockets:
    """A namespace with ``clients * len(ports)`` real connections (twice as many sockets)."""

    def __init__(self, namespace, clients, ports=12, conntrack=True):
        if clients > 65000:
            raise ValueError("at most 65,000 client addresses")
        self.namespace = namespace
        self.clients = clients
        self.ports = [FIRST_PORT + index for index in range(ports)]
        self.conntrack = conntrack
        self.processes = []

    @property
    def connections(self):
        return self.clients * len(self.ports)

    def __enter__(self):
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, check=False)
        run("ip", "netns", "add", self.namespace)
        try:
            self._build()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _build(self):
        run("ip", "-n", self.namespace, "link", "set", "lo", "up")
        for setting in ("net.ipv4.ip_local_port_range=1024 65000", "net.core.somaxconn=65535"):
            run("sysctl", "-qw", setting, namespace=self.namespace)
        if self.conntrack:
            run("nft", "-f", "-", namespace=self.namespace, input=RULESET)
        per_process = max(1, MAX_PER_PROCESS)
        for port in self.ports:
            server = self._start("server", port, self.clients)
            self._wait(server, "listening")
        for number, port in enumerate(self.ports):
            keepalive = "1" if number % 3 == 0 else "0"
            for start in range(0, self.clients, per_process):
                stop = min(start + per_process, self.clients)
                self._wait(self._start("client", port, keepalive, start, stop), "ready")
        for process in self.processes[: len(self.ports)]:
            self._wait(process, "ready")
        if self.conntrack:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.conntrack_count() < self.connections:
                time.sleep(0.2)

    def conntrack_count(self):
        try:
            return int(run("cat", "/proc/sys/net/netfilter/nf_conntrack_count", namespace=self.namespace).stdout)
        except (subprocess.CalledProcessError, ValueError):
            return 0

    def _start(self, *args):
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-c", HOLDER, *map(str, args)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_raise_descriptor_limit,
        )
        self.processes.append(process)
        return process

    def _wait(self, process, word):
        line = process.stdout.readline().strip()
        if line != word:
            raise RuntimeError("holder process said %r instead of %r (rc=%s)" % (line, word, process.poll()))

    def __exit__(self, *exception):
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait(timeout=30)
        self.processes = []
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, check=False)
        return False


def _raise_descriptor_limit():
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _interrupt(_signal_number, _frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # A quick look by hand: python bench/live_sockets.py NAMESPACE CLIENTS [PORTS]; SIGTERM or ^C removes it all.
    signal.signal(signal.SIGTERM, _interrupt)
    arguments = sys.argv[1:]
    started = time.monotonic()
    with LiveSockets(arguments[0], int(arguments[1]), int(arguments[2]) if len(arguments) > 2 else 12) as live:
        print(
            "%d connections in %.1f s; conntrack entries: %d"
            % (live.connections, time.monotonic() - started, live.conntrack_count())
        )
        print("holding; interrupt to remove (namespace %s, pid %d)" % (live.namespace, os.getpid()), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
