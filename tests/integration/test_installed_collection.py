# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as users get it: the tarball built (tools/build-collection.sh), installed offline into an empty
collections path with only ansible-core (the venv's other collections hidden), and netdiag.tcp.audit run from
that copy in a directory outside the repository, against this machine (read-only, as every audit).

NETDIAG_ANSIBLE_BIN (default: .venv/bin) selects the ansible-core that installs and runs it: `make test-oldest`
runs it again with the oldest ansible-core meta/runtime.yml claims (.venv-2.16/bin).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tarfile

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
ANSIBLE_BIN = pathlib.Path(os.environ.get("NETDIAG_ANSIBLE_BIN", REPO / ".venv" / "bin"))
# What users run and read; everything else of the repository is the development side.
SHIPPED = {
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "COPYING",
    "CHANGELOG.rst",  # the release notes
    "changelogs",
    "examples",  # the incident's captures, which docs/runbook-2012-incident.md analyses
    "docs",
    "meta",
    "playbooks",
    "plugins",
    "roles",
    "requirements.txt",
    "bindep.txt",
}


def environment(collections):
    """Only the installed copy: no ansible.cfg of the repository, no collections from the Python packages."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    clean.update(
        ANSIBLE_COLLECTIONS_PATH=str(collections),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
        ANSIBLE_LOCAL_TEMP=str(collections.parent / "tmp"),
        PATH="%s:%s" % (ANSIBLE_BIN, os.environ.get("PATH", "")),
    )
    return clean


def run(command, cwd, env, timeout=600):
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert completed.returncode == 0, "%s (rc=%d)\n%s\n%s" % (
        " ".join(map(str, command)),
        completed.returncode,
        completed.stdout[-4000:],
        completed.stderr[-4000:],
    )
    return completed


def test_tarball_installs_offline_and_audits_from_the_installed_copy(tmp_path):
    dist = tmp_path / "dist"
    run([str(REPO / "tools" / "build-collection.sh"), str(dist)], REPO, dict(os.environ))
    (tarball,) = dist.glob("netdiag-tcp-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
        manifest = json.loads(archive.extractfile("MANIFEST.json").read())
    top = {name.split("/")[0] for name in names}
    assert top == SHIPPED, sorted(top ^ SHIPPED)
    assert "meta/execution-environment.yml" in names and "docs/awx.md" in names
    assert not [name for name in names if "/fragments/" in name or name.endswith((".pyc", ".tar.gz"))]
    assert manifest["collection_info"]["dependencies"] == {}

    collections = tmp_path / "collections"
    collections.mkdir()
    (tmp_path / "tmp").mkdir()
    env = environment(collections)
    run(
        [
            str(ANSIBLE_BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            str(tarball),
            "-p",
            str(collections),
        ],
        tmp_path,
        env,
    )
    listed = run([str(ANSIBLE_BIN / "ansible-galaxy"), "collection", "list", "--format", "json"], tmp_path, env)
    # ansible-core's own internal collections (ansible.builtin, 2.19's ansible._protomatter) aside, only this one.
    visible = {name for path in json.loads(listed.stdout).values() for name in path}
    assert {name for name in visible if not name.startswith("ansible._")} - {"ansible.builtin"} == {"netdiag.tcp"}

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    inventory = workdir / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "this-machine": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": "/usr/bin/python3",
                        }
                    }
                }
            }
        )
    )
    completed = run([str(ANSIBLE_BIN / "ansible-playbook"), "netdiag.tcp.audit", "-i", str(inventory)], workdir, env)
    report = json.loads((workdir / "reports" / "audit-latest.json").read_text())
    assert report["hosts"]["this-machine"]["status"] == "ok", completed.stdout[-3000:]
    assert report["hosts"]["this-machine"]["netstat"]["platform"] == "Linux"
    assert "netdiag.tcp audit" in completed.stdout and "this-machine: ok" in completed.stdout
    # The installed copy ran, not the repository: its playbook path is under the empty collections path.
    assert (
        str(collections / "ansible_collections" / "netdiag" / "tcp")
        in run(
            [str(ANSIBLE_BIN / "ansible-playbook"), "netdiag.tcp.audit", "--list-tasks", "-i", str(inventory), "-vv"],
            workdir,
            env,
        ).stdout
    )
