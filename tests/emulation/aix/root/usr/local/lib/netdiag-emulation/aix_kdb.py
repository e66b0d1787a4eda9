# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATION (netdiag.tcp tests): AIX `kdb` reading subcommands from standard input, as `echo ... | kdb` does.

Prints the start-up banner of the real sample (tests/unit/fixtures/aix/kdb-banner-1.txt), then for each
`sockinfo <pcb> tcpcb` line a "(0)>" prompt and that socket's TCPCB and SOCKET INFO sections made from the host's
real socket: t_state, the four BSD t_timer slots (TCPT_KEEP non-zero, in half-seconds, only when the Linux
keepalive timer is armed), opts (KEEPALIVE when SO_KEEPALIVE is set, ACCEPTCONN on listeners), and, when a
process has the socket open, the proc/fd lines and the process-table row (PID and PPID in hex) that real kdb
prints. Field spelling follows IBM's sockinfo example (kdb-sockinfo-1.txt) and the incident's excerpt; the
remaining kdb fields are not emulated. Other subcommands print nothing; `q`/`quit` ends.
"""

import os
import sys

import aix_emulation

BANNER = (
    "           START              END \n"  # the real banner has this trailing space
    """0000000000001000 00000000058A0000 start+000FD8
F00000002FF47600 F00000002FFDF9C8 __ublock+000000
000000002FF22FF4 000000002FF22FF8 environ+000000
000000002FF22FF8 000000002FF22FFC errno+000000
F1000F0A00000000 F1000F0A10000000 pvproc+000000
F1000F0A10000000 F1000F0A18000000 pvthread+000000
read vscsi_scsi_ptrs OK, ptr = 0x5AB0380
"""
)


def parent_pid(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def sockinfo(item, holders):
    pcb = item.pcb.upper()
    out = ["---- TCPCB ----(@ %s)----" % pcb]
    out.append("    seg_next......@%s  seg_prev......@%s" % (pcb, pcb))
    out.append("    t_softerror... 00000000 t_state....... %08X (%s)" % (item.state_code, item.state))
    out.append("    t_timer....... 00000000 (TCPT_REXMT)")
    out.append("    t_timer....... 00000000 (TCPT_PERSIST)")
    out.append("    t_timer....... %08X (TCPT_KEEP)" % item.keep_ticks)
    out.append("    t_timer....... 00000000 (TCPT_2MSL)")
    out.append("")
    options = []
    code = 0
    if item.state == "LISTEN":
        options.append("ACCEPTCONN")
        code |= 0x0002
    if item.keepalive:
        options.append("KEEPALIVE")
        code |= 0x0008
    decoded = " (%s)" % "|".join(options) if options else ""
    out.append("---- SOCKET INFO ----(@ %s)----" % item.socket_address.upper().rjust(16, "0"))
    out.append("    type........ 0001 (STREAM)")
    out.append("    opts........ %04X%s" % (code, decoded))
    out.append("")
    for slot, (pid, fd, command) in enumerate(holders, start=60):
        out.append("proc/fd: %3d/%d" % (slot, fd))
        out.append("proc/fd: fd: %d" % fd)
        out.append("              SLOT NAME     STATE      PID    PPID          ADSPACE  CL #THS")
        out.append("")
        out.append(
            "pvproc+%06X %4d*%-8s ACTIVE %07X %07X %016X    0 0001"
            % (slot * 0x400, slot, command[:8], pid, parent_pid(pid), 0)
        )
        out.append("")
    return out


if os.geteuid() != 0:
    sys.stderr.write("kdb (emulation): must be run by root\n")
    sys.exit(1)
sys.stdout.write(BANNER)
owners = None
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    sys.stdout.write("(0)> %s\n" % line.strip())
    if words[0] in ("q", "quit"):
        break
    if words[0] in ("sockinfo", "si") and len(words) >= 3 and words[2] == "tcpcb":
        item = aix_emulation.find(words[1])
        if item is None or not item.proto.startswith("tcp"):
            continue
        if owners is None:
            owners = aix_emulation.owners()
        holders = owners.get(item.inode, []) if item.inode else []
        sys.stdout.write("\n".join(sockinfo(item, holders)) + "\n")
sys.stdout.write("(0)> \n")
