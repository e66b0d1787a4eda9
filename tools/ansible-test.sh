#!/usr/bin/env bash
# Runs `ansible-test <command>` (sanity, units) locally, without containers.
# ansible-test needs the collection at .../ansible_collections/netdiag/tcp (a symlink does not work), so the files git
# knows (tracked and untracked-but-not-ignored) are copied into a temporary tree. Its pip bootstrap downloads a
# get-pip script from a host CI cannot reach: tools/get_pip_standin.py is put in its cache instead.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
command=${1:?usage: tools/ansible-test.sh sanity|units [ansible-test options]}
shift
work=$(mktemp -d /tmp/netdiag-ansible-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree="$work/ansible_collections/netdiag/tcp"
mkdir -p "$tree"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
    [ -e "$file" ] && printf '%s\0' "$file"
done | xargs -0 cp --parents -t "$tree")

pip_version=$("$repo/.venv/bin/python" -c 'import re, pathlib, ansible_test; text = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text(); print(re.search(r"pip=.(\d+\.\d+(?:\.\d+)?).", text).group(1))')
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp "$repo/tools/get_pip_standin.py" "$cache"

cd "$tree"
export PATH="$repo/.venv/bin:$PATH"
exec ansible-test "$command" --venv --python 3.11 --color no "$@"
