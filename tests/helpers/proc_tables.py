# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic /proc/net/tcp* tables in the kernel's layout, with odd rows mixed in, for the tests of the column-wise
reader and of established_tuples (shared: tests/helpers is on pytest's pythonpath)."""

from __future__ import annotations

TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
UDP_HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops"
)


def _address(generator, six):
    if not six:
        return "%08X" % generator.choice(
            [0x0100007F, 0x057100CB, 0x1C00000A] + [generator.randrange(1 << 32) for _word in range(3)]
        )
    kind = generator.randrange(3)
    if kind == 0:  # IPv4-mapped
        return "0000000000000000FFFF0000%08X" % generator.randrange(1 << 32)
    if kind == 1:
        return "00000000000000000000000001000000"  # ::1
    return "B80D0120%024X" % generator.randrange(1 << 96)


def kernel_row(generator, number, six=False, ports=(22, 5555, 8080), inode_format="%d"):
    """A row as get_tcp4_sock/get_tcp6_sock/get_timewait*_sock print it (tcp4 rows padded to 149 like the kernel).

    inode_format "%06d" gives what no kernel prints but iter_records reads: an inode with leading zeros."""
    state = generator.choice(["01"] * 10 + ["02", "03", "04", "05", "06", "06", "07", "08", "09", "0A", "0B", "0D"])
    local = _address(generator, six)
    if state == "0A":
        local_port, remote, remote_port = generator.choice(ports), "0" * len(local), 0
    elif generator.random() < 0.6:
        local_port, remote, remote_port = (
            generator.choice(ports),
            _address(generator, six),
            generator.randrange(1, 65536),
        )
    else:
        local_port = generator.randrange(1, 65536)
        remote, remote_port = _address(generator, six), generator.choice((22, 443, 3306, 5555, 0))
    if state == "06":
        row = "%4d: %s:%04X %s:%04X 06 00000000:00000000 03:%08X 00000000 %5d %8d %d %d %016x" % (
            number,
            local,
            local_port,
            remote,
            remote_port,
            generator.randrange(6000),
            0,
            0,
            0,
            3,
            0,
        )
    else:
        row = (
            "%4d: %s:%04X %s:%04X %s %08X:%08X %s:%08X %08X %5u %8d " + inode_format + " %d %016x %d %d %d %d %d"
        ) % (
            number,
            local,
            local_port,
            remote,
            remote_port,
            state,
            generator.choice((0, 0, 0x1F)),
            generator.choice((0, 0, 0x52)),
            generator.choice(("00", "00", "02", "02", "01", "04", "03", "12")),
            generator.randrange(1 << 24),
            generator.choice((0, 0, 3)),
            generator.choice((0, 1000, 33, 65534, 99999)),
            generator.choice((0, 0, 0, 120)),
            generator.choice((0, generator.randrange(1, 10**6), generator.randrange(10**6, 4 * 10**9))),
            1,
            generator.randrange(1 << 48),
            20,
            4,
            30,
            10,
            -1,
        )
    return row if six else row.ljust(149)


def odd_row(generator, number, six):
    """A line the column path must hand to iter_records(): valid in another form, or not valid at all."""
    row = kernel_row(generator, number, six)
    kind = generator.randrange(9)
    if kind == 0:
        return ""
    if kind == 1:
        return TCP_HEADER.ljust(149)
    if kind == 2:
        return row.lower()  # lower-case hex: iter_records decides (bad state code unless all digits)
    if kind == 3:
        return row.rstrip() + "   "  # another width
    if kind == 4:
        return row.replace(":", " ", 1)  # no colon after sl
    if kind == 5:
        return row[:60]  # truncated
    if kind == 6:
        return row.replace(" 0 ", " x ", 1)  # garbage in a decimal field
    if kind == 7:
        if generator.random() < 0.5:
            return kernel_row(generator, number, six, inode_format="%011d")
        return "%7d: " % number + row.split(": ", 1)[1]  # a wider sl field, otherwise valid
    return row.replace(" 0000000000000000 ", " 00000000 0000000000000000 ", 1)  # an extra field in the tail


def synthetic_table(generator, rows, six=False, odd=0.0, header=True):
    lines = [TCP_HEADER.ljust(149) if not six else TCP_HEADER] if header else []
    for number in range(rows):
        if generator.random() < odd:
            lines.append(odd_row(generator, number, six))
        else:
            lines.append(kernel_row(generator, number, six))
    return "\n".join(lines) + "\n"
