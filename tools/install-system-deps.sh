#!/usr/bin/env bash
# Debian packages the tests use: real conntrack/nft in network namespaces, debootstrap for the Molecule hosts,
# ssh client for Ansible over SSH, net-tools/iproute2 to capture real netstat/ss output in tests, chromium to
# render the HTML report headless (tests/integration/test_report_html_chromium.py), strace to stop conntrack_sysctl
# at its rename and kill it there (tests/integration/test_conntrack_sysctl_killed.py).
set -euo pipefail
packages=(debootstrap nftables conntrack iproute2 openssh-client net-tools procps kmod shellcheck chromium strace)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "make test needs these Debian packages, and installing them needs root: ${missing[*]}" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
