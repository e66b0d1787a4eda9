# SPDX-License-Identifier: GPL-3.0-or-later
"""Opens one NEW TCP connection inside this host's network namespace and prints its conntrack entry as JSON.

Usage: conntrack_probe.py ADDRESS PORT. Conntrack only tracks a network namespace once a rule there needs it, so the
probe first adds an nftables table with a `ct state` rule (removed again at the end). It then connects to a
listener on ADDRESS:PORT, exchanges a byte each way, and reads the entry with `conntrack -L` (netlink, this
namespace) and, where the kernel has it, /proc/net/nf_conntrack.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

TABLE = "netdiag_molecule_probe"
RULESET = (
    """
table inet %s {
    chain output {
        type filter hook output priority 0; policy accept;
        ct state new,established counter
    }
}
"""
    % TABLE
)


def entry_timeout(text, client_port, port):
    """(timeout, state, line) of the TCP entry of the connection client_port -> port, or None.

    Matching the client's port as well skips entries of earlier probes (e.g. in TIME_WAIT).
    """
    for line in text.splitlines():
        fields = line.split()
        if "tcp" not in fields or "sport=%d" % client_port not in fields or "dport=%d" % port not in fields:
            continue
        # conntrack -L:         tcp      6 1199 ESTABLISHED src=... dport=5555 ...
        # /proc/net/nf_conntrack: ipv4 2 tcp 6 1199 ESTABLISHED src=... dport=5555 ...
        index = fields.index("tcp")
        return int(fields[index + 2]), fields[index + 3], line.strip()
    return None


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    environment = dict(os.environ, LC_ALL="C")
    subprocess.run(["nft", "-f", "-"], input=RULESET, text=True, check=True, env=environment)
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(1)
        client = socket.create_connection((address, port), timeout=5)
        client_port = client.getsockname()[1]
        server = listener.accept()[0]
        client.sendall(b"x")
        server.recv(1)
        server.sendall(b"y")
        client.recv(1)
        listed = subprocess.run(
            ["conntrack", "-L", "-p", "tcp", "--dport", str(port)],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
        ).stdout
        result = {"client_port": client_port, "conntrack": None, "proc": None, "conntrack_output": listed}
        found = entry_timeout(listed, client_port, port)
        if found:
            result["conntrack"] = dict(zip(("timeout", "state", "line"), found))
        if os.path.exists("/proc/net/nf_conntrack"):
            with open("/proc/net/nf_conntrack") as table:
                found = entry_timeout(table.read(), client_port, port)
            if found:
                result["proc"] = dict(zip(("timeout", "state", "line"), found))
        for connection in (client, server, listener):
            connection.close()
    finally:
        subprocess.run(["nft", "delete", "table", "inet", TABLE], check=False, env=environment)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
