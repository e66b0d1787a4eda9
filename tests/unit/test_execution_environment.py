# SPDX-License-Identifier: GPL-3.0-or-later
"""The Execution Environment side: what ansible-builder reads from the collection, and the example definition in
docs/ turned into a build context by ansible-builder itself (no container is built)."""

from __future__ import annotations

import pathlib
import subprocess

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILDER = REPO / ".venv" / "bin" / "ansible-builder"


def test_introspect_lists_the_controller_side_needs(tmp_path):
    collections = tmp_path / "ansible_collections" / "netdiag"
    collections.mkdir(parents=True)
    (collections / "tcp").symlink_to(REPO)
    completed = subprocess.run(
        [str(BUILDER), "introspect", str(tmp_path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    data = yaml.safe_load(completed.stdout.split("---", 1)[1])
    python = [line.split("#")[0].strip() for line in data["python"]]
    system = [line.split("#")[0].strip() for line in data["system"]]
    assert python == ["jmespath>=0.10.0"]
    assert system == ["openssh-client [platform:dpkg]", "openssh-clients [platform:rpm]"]
    assert all(line.endswith("# from collection netdiag.tcp") for line in data["python"] + data["system"])


def test_create_writes_the_build_context_of_the_docs_example(tmp_path):
    definition = REPO / "docs" / "execution-environment.yml"
    context = tmp_path / "context"
    completed = subprocess.run(
        [
            str(BUILDER),
            "create",
            "-f",
            str(definition),
            "--context",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    containerfile = (context / "Containerfile").read_text()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert galaxy == {"collections": [{"name": "netdiag.tcp", "version": ">=0.1.0"}]}
    # The base image, the ansible-core range the collection supports (meta/runtime.yml) and the collection's own
    # dependencies, read by introspection inside the build from meta/execution-environment.yml.
    assert "quay.io/ansible/awx-ee:latest" in containerfile
    assert "ansible-core>=2.16,<2.20" in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.16.0"


def test_meta_points_at_files_that_are_shipped():
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["version"] == 1
    for kind in ("python", "system"):
        assert (REPO / meta["dependencies"][kind]).is_file()
