# SPDX-License-Identifier: GPL-3.0-or-later
"""Which sockets or conntrack entries the user asked for: the shared ports/states/peers options."""

from __future__ import annotations

import ipaddress


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


class Selection:
    """Validated ports/states/peers filters. Empty options select everything.

    Raises ValueError with a message naming the option and the bad value, so a module can fail before it reads
    anything.
    """

    def __init__(self, ports=None, states=None, peers=None):
        self.ports = frozenset(self._port(value) for value in _as_list(ports))
        self.states = frozenset(self._state(value) for value in _as_list(states))
        self.networks = tuple(self._network(value) for value in _as_list(peers))

    @staticmethod
    def _port(value):
        try:
            port = int(value)
        except (TypeError, ValueError):
            raise ValueError("ports: %r is not a port number (1-65535)" % (value,)) from None
        if isinstance(value, bool) or not 0 < port < 65536 or str(port) != str(value).strip():
            raise ValueError("ports: %r is not a port number (1-65535)" % (value,))
        return port

    @staticmethod
    def _state(value):
        text = str(value).strip().upper().replace("-", "_")
        if not text or not all(char.isalnum() or char == "_" for char in text):
            raise ValueError("states: %r is not a TCP state name such as ESTABLISHED" % (value,))
        return text

    @staticmethod
    def _network(value):
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise ValueError("peers: %r is not an IP address or CIDR network" % (value,)) from None
        if network.version == 6 and network.network_address.ipv4_mapped is not None and network.prefixlen >= 96:
            # ::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n-96): peers are reported as IPv4.
            mapped = network.network_address.ipv4_mapped
            network = ipaddress.ip_network("%s/%d" % (mapped, network.prefixlen - 96), strict=False)
        return network

    @property
    def selects_all(self):
        return not (self.ports or self.states or self.networks)

    def port_selected(self, *ports):
        """True when no ports were asked for or any of the given ports (None for a wildcard) is one of them."""
        return not self.ports or any(port in self.ports for port in ports if port is not None)

    def state_selected(self, state):
        return not self.states or (state is not None and state in self.states)

    def peer_selected(self, *addresses):
        """True when no peers were asked for or any of the given address strings lies in one of the networks."""
        if not self.networks:
            return True
        for address in addresses:
            if not address or address == "*":
                continue
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                continue
            if any(parsed.version == network.version and parsed in network for network in self.networks):
                return True
        return False
