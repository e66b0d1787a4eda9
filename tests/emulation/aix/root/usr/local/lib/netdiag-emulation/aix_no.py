# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): AIX `no -o NAME [-o NAME...]` and `no -a`, from the host's Linux settings.

tcp_keepidle / tcp_keepintvl are AIX half-seconds: twice net.ipv4.tcp_keepalive_time / _intvl of this host's
network namespace; tcp_keepcnt is net.ipv4.tcp_keepalive_probes. The other tunables are the values of the real
`no -a` sample (tests/unit/fixtures/aix/no-a-1.txt, a subset). Output: right-aligned `name = value` lines.
"""

import sys


def sysctl(name, default):
    try:
        with open("/proc/sys/net/ipv4/" + name) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


TUNABLES = {
    "clean_partial_conns": 0,
    "tcp_ephemeral_high": 65535,
    "tcp_ephemeral_low": 32768,
    "tcp_finwait2": 1200,
    "tcp_keepcnt": sysctl("tcp_keepalive_probes", 8),
    "tcp_keepidle": sysctl("tcp_keepalive_time", 7200) * 2,
    "tcp_keepinit": 150,
    "tcp_keepintvl": sysctl("tcp_keepalive_intvl", 75) * 2,
    "tcp_recvspace": 16384,
    "tcp_sendspace": 16384,
    "tcp_timewait": 1,
}

arguments = sys.argv[1:]
names = []
index = 0
while index < len(arguments):
    argument = arguments[index]
    if argument == "-a":
        names = sorted(TUNABLES)
    elif argument == "-o" and index + 1 < len(arguments):
        index += 1
        names.append(arguments[index])
    else:
        sys.stderr.write("no: emulation understands only -a and -o NAME\n")
        sys.exit(2)
    index += 1
if not names:
    sys.stderr.write("Usage: no -a | -o tunable\n")
    sys.exit(2)
status = 0
for name in names:
    if name not in TUNABLES:
        sys.stderr.write("no: %s is not a tunable of this emulation\n" % name)
        status = 1
        continue
    print("%25s = %s" % (name, TUNABLES[name]))
sys.exit(status)
