#!/usr/bin/env bash
# Runs every CI Molecule scenario in extensions/molecule (all but `podman`, which is for laptops; see
# docs/molecule.md) from the repository root, on real test hosts built by tools/testhosts/testhosts.py.
# Fails if any scenario fails; always removes every test host, also those a crashed earlier run left behind.
# Needs root (network namespaces, mounts). Usage: tools/molecule-all.sh [extra `molecule test` arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
    echo "molecule-all: the test hosts need root (network namespaces, overlay mounts, debootstrap)" >&2
    exit 1
fi

# Molecule runs ansible-playbook and ansible-config by name; the collection comes from the checkout's link.
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$repo/.ansible/collections"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
export PY_COLORS="${PY_COLORS:-0}"
export NO_COLOR="${NO_COLOR:-1}"

testhosts() { python3 tools/testhosts/testhosts.py "$@"; }
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    testhosts destroy --all || echo "molecule-all: destroy --all failed; see python3 tools/testhosts/testhosts.py status" >&2
}
trap cleanup EXIT

started=$SECONDS
testhosts destroy --all  # leftovers of a crashed earlier run
testhosts rootfs >/dev/null  # debootstrap once per machine (cached), timed apart from the scenarios
echo "molecule-all: rootfs ready after $((SECONDS - started)) s"

# Every scenario directory except those that need tools CI does not have. They are named with -s rather than
# excluded from --all, because --all loads every scenario's configuration, and the podman one names a driver
# (from molecule-plugins) that is not installed here.
not_in_ci=(podman)
scenario_args=()
for molecule_file in extensions/molecule/*/molecule.yml; do
    scenario=$(basename "$(dirname "$molecule_file")")
    [[ " ${not_in_ci[*]} " == *" $scenario "* ]] || scenario_args+=(-s "$scenario")
done
echo "molecule-all: scenarios: ${scenario_args[*]}"

status=0
molecule test "${scenario_args[@]}" "$@" || status=$?
echo "molecule-all: scenarios finished after $((SECONDS - started)) s with status $status"
exit "$status"
