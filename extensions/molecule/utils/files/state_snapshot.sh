#!/bin/sh
# Prints, sorted, what a role run that must change nothing could touch: every file, link and directory under /etc
# (type, mode, owner, and the content hash of regular files) and every live net.netfilter.* value except the
# entry counter nf_conntrack_count, which moves with traffic.
set -eu
export LC_ALL=C
find /etc -xdev -printf '%y %m %u:%g %p -> %l\n' | sort
find /etc -xdev -type f -exec sha256sum {} + | sort -k 2
sysctl -a --pattern '^net\.netfilter\.' 2>/dev/null | grep -v '^net\.netfilter\.nf_conntrack_count ' | sort
