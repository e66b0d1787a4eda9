#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Build the netdiag.tcp collection tarball from the files git tracks (as they are in this checkout), so that no
# untracked scratch file gets into it; galaxy.yml's build_ignore then leaves out the development side.
#   tools/build-collection.sh [output directory, default: .]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
output=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
galaxy=${ANSIBLE_GALAXY:-$repo/.venv/bin/ansible-galaxy}
work=$(mktemp -d "${TMPDIR:-/tmp}/netdiag-build.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cd "$repo"
git ls-files -z | tar --null --files-from=- --create --file=- | tar --extract --file=- --directory="$work"
"$galaxy" collection build "$work" --output-path "$output" --force
