# SPDX-License-Identifier: GPL-3.0-or-later
"""linux_sysctl_persisted: boot order of sysctl.d files (sysctl.d(5)), /etc/sysctl.conf, modules-load.d.

The file contents are synthetic, in the syntax sysctl.d(5) and modules-load.d(5) describe.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.netdiag.tcp.plugins.module_utils.linux import sysctl_persisted as persisted_module

KEY = "net.netfilter.nf_conntrack_tcp_timeout_established"
LEGACY = "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established"


def where(result):
    return [(record["file"], record["line"], record["value"]) for record in result["assignments"]]


def run(files, **options):
    return persisted_module.persisted(files, {}, **options)


def test_sorted_by_file_name_across_directories():
    files = {
        "/usr/lib/sysctl.d/50-vendor.conf": "%s = 100\n" % KEY,
        "/etc/sysctl.d/20-early.conf": "# comment\n; comment\n%s=200\n" % KEY,
        "/run/sysctl.d/70-runtime.conf": "%s = 300\n" % KEY,
    }
    result = run(files)
    assert where(result) == [
        ("/etc/sysctl.d/20-early.conf", 3, 200),
        ("/usr/lib/sysctl.d/50-vendor.conf", 1, 100),
        ("/run/sysctl.d/70-runtime.conf", 1, 300),
    ]
    assert result["effective"] == {"file": "/run/sysctl.d/70-runtime.conf", "line": 1, "key": KEY, "value": 300}


@pytest.mark.parametrize(
    ("winner", "losers"),
    [
        ("/etc/sysctl.d/50-x.conf", ["/run/sysctl.d/50-x.conf", "/usr/local/lib/sysctl.d/50-x.conf"]),
        ("/run/sysctl.d/50-x.conf", ["/usr/local/lib/sysctl.d/50-x.conf", "/usr/lib/sysctl.d/50-x.conf"]),
        ("/usr/local/lib/sysctl.d/50-x.conf", ["/usr/lib/sysctl.d/50-x.conf", "/lib/sysctl.d/50-x.conf"]),
        ("/usr/lib/sysctl.d/50-x.conf", ["/lib/sysctl.d/50-x.conf"]),
    ],
)
def test_same_name_in_earlier_directory_hides_the_later(winner, losers):
    files = {winner: "%s = 1\n" % KEY}
    files.update(dict.fromkeys(losers, "%s = 2\n" % KEY))
    assert where(run(files)) == [(winner, 1, 1)]


def test_masked_by_empty_file_in_etc():
    files = {"/etc/sysctl.d/50-x.conf": "", "/usr/lib/sysctl.d/50-x.conf": "%s = 2\n" % KEY}
    result = run(files)
    assert result["assignments"] == []
    assert result["effective"] is None


def test_only_conf_files():
    files = {"/etc/sysctl.d/README.sysctl": "%s = 2\n" % KEY, "/etc/sysctl.d/x.conf.bak": "%s = 3\n" % KEY}
    assert run(files)["assignments"] == []


def test_sysctl_conf_through_debian_link_sorts_as_99_sysctl():
    files = {
        "/etc/sysctl.conf": "%s = 1200\n" % LEGACY,
        "/etc/sysctl.d/99-sysctl.conf": "%s = 1200\n" % LEGACY,
        "/etc/sysctl.d/99-zz-late.conf": "%s = 600\n" % KEY,
        "/usr/lib/sysctl.d/10-vendor.conf": "%s = 432000\n" % KEY,
    }
    result = run(files, sysctl_links={"/etc/sysctl.d/99-sysctl.conf": "/etc/sysctl.conf"})
    assert result["sysctl_conf_linked"] is True
    assert where(result) == [
        ("/usr/lib/sysctl.d/10-vendor.conf", 1, 432000),
        ("/etc/sysctl.d/99-sysctl.conf", 1, 1200),
        ("/etc/sysctl.d/99-zz-late.conf", 1, 600),
    ]
    assert result["assignments"][1]["target"] == "/etc/sysctl.conf"
    assert result["effective"]["value"] == 600


def test_sysctl_conf_without_link_is_applied_last():
    files = {"/etc/sysctl.conf": "%s = 1200\n" % LEGACY, "/etc/sysctl.d/99-zz.conf": "%s = 600\n" % KEY}
    result = run(files)
    assert result["sysctl_conf_linked"] is False
    assert where(result) == [("/etc/sysctl.d/99-zz.conf", 1, 600), ("/etc/sysctl.conf", 1, 1200)]
    assert result["effective"] == {"file": "/etc/sysctl.conf", "line": 1, "key": LEGACY, "value": 1200}


def test_legacy_key_on_current_kernel_does_nothing():
    files = {
        "/etc/sysctl.d/10-new.conf": "%s = 1200\n" % KEY,
        "/etc/sysctl.d/90-seed.conf": "%s = 432000\n" % LEGACY,
    }
    result = run(files, present_keys=[KEY])
    assert [record["applies"] for record in result["assignments"]] == [True, False]
    assert result["effective"] == {"file": "/etc/sysctl.d/10-new.conf", "line": 1, "key": KEY, "value": 1200}


def test_unknown_kernel_keys_means_every_assignment_applies():
    result = run({"/etc/sysctl.d/90-seed.conf": "%s = 432000\n" % LEGACY})
    assert result["assignments"][0]["applies"] is True
    assert result["effective"]["key"] == LEGACY


def test_slash_separators_and_dash_prefix():
    text = (
        "-net/netfilter/nf_conntrack_tcp_timeout_established = 900\n"
        "  net/ipv4/netfilter/ip_conntrack_tcp_timeout_established=800\n"
    )
    result = run({"/etc/sysctl.d/50-x.conf": text})
    assert [(record["key"], record["value"], record["ignore_failure"]) for record in result["assignments"]] == [
        (KEY, 900, True),
        (LEGACY, 800, False),
    ]


def test_other_keys_are_ignored():
    text = "net.netfilter.nf_conntrack_tcp_timeout_established_x = 1\nnet.netfilter.nf_conntrack_max = 2\n"
    assert run({"/etc/sysctl.d/50-x.conf": text})["assignments"] == []


def test_glob_applies_when_no_explicit_assignment():
    result = run({"/etc/sysctl.d/50-x.conf": "net.netfilter.nf_conntrack_tcp_timeout_* = 3600\n"})
    assert result["assignments"] == [
        {
            "file": "/etc/sysctl.d/50-x.conf",
            "line": 1,
            "key": "net.netfilter.nf_conntrack_tcp_timeout_*",
            "value": 3600,
            "ignore_failure": False,
            "glob": True,
            "matches": [KEY],
            "applies": True,
        }
    ]
    assert result["effective"]["value"] == 3600


def test_glob_does_not_apply_to_an_explicit_key_even_if_later():
    files = {
        "/etc/sysctl.d/10-x.conf": "%s = 1200\n" % KEY,
        "/etc/sysctl.d/90-y.conf": "net.netfilter.nf_conntrack_tcp_timeout_* = 3600\n",
    }
    result = run(files, present_keys=[KEY])
    assert where(result) == [("/etc/sysctl.d/10-x.conf", 1, 1200)]


def test_dash_key_without_value_excludes_it_from_globs():
    text = "net.netfilter.nf_conntrack_tcp_timeout_* = 3600\n-%s\n" % KEY
    result = run({"/etc/sysctl.d/50-x.conf": text}, present_keys=[KEY])
    assert result["assignments"] == []
    assert result["effective"] is None


@pytest.mark.parametrize(
    ("module_files", "links", "builtin", "loaded", "entries"),
    [
        ({}, None, None, False, []),
        ({}, None, True, True, []),
        (
            {"/etc/modules-load.d/conntrack.conf": "# netfilter\nnf_conntrack\n"},
            None,
            False,
            True,
            [{"file": "/etc/modules-load.d/conntrack.conf", "line": 2, "module": "nf_conntrack"}],
        ),
        (
            {"/etc/modules": "loop\nnf-conntrack-ipv4 # old name\n"},
            None,
            None,
            True,
            [{"file": "/etc/modules", "line": 2, "module": "nf_conntrack_ipv4"}],
        ),
        (
            # Debian's link: /etc/modules read once, at the link's place.
            {"/etc/modules": "nf_conntrack\n", "/etc/modules-load.d/modules.conf": "nf_conntrack\n"},
            {"/etc/modules-load.d/modules.conf": "/etc/modules"},
            None,
            True,
            [{"file": "/etc/modules-load.d/modules.conf", "line": 1, "module": "nf_conntrack"}],
        ),
        (
            # Masked by an empty file of the same name in /etc.
            {"/etc/modules-load.d/ct.conf": "", "/usr/lib/modules-load.d/ct.conf": "nf_conntrack\n"},
            None,
            False,
            False,
            [],
        ),
        ({"/etc/modules-load.d/other.conf": "nf_nat_ftp\n;nf_conntrack\n#nf_conntrack\n"}, None, None, False, []),
    ],
)
def test_module_loaded_at_boot(module_files, links, builtin, loaded, entries):
    result = persisted_module.persisted({}, module_files, builtin=builtin, module_links=links)
    assert result["module_loaded_at_boot"] is loaded
    assert result["module_builtin"] is builtin
    assert result["module_load_files"] == entries


def test_result_shape():
    assert persisted_module.persisted({}, {}) == {
        "key": KEY,
        "assignments": [],
        "effective": None,
        "sysctl_conf_linked": False,
        "module_builtin": None,
        "module_loaded_at_boot": False,
        "module_load_files": [],
    }


# --- the I/O half on a real directory tree --------------------------------------------------------------------


def make_tree(root):
    (root / "etc/sysctl.d").mkdir(parents=True)
    (root / "usr/lib/sysctl.d").mkdir(parents=True)
    (root / "etc/modules-load.d").mkdir(parents=True)
    (root / "etc/sysctl.conf").write_text("%s = 1200\n" % LEGACY)
    os.symlink("../sysctl.conf", root / "etc/sysctl.d/99-sysctl.conf")
    os.symlink("/dev/null", root / "etc/sysctl.d/50-masked.conf")
    (root / "usr/lib/sysctl.d/50-masked.conf").write_text("%s = 7\n" % KEY)
    (root / "usr/lib/sysctl.d/10-vendor.conf").write_text("%s = 432000\n" % KEY)
    (root / "etc/sysctl.d/README.sysctl").write_text("%s = 1\n" % KEY)
    os.symlink("usr/lib", root / "lib")  # merged /usr: /lib/sysctl.d is /usr/lib/sysctl.d
    os.symlink("../modules", root / "etc/modules-load.d/modules.conf")  # dangling, as on this Debian 12
    return root


def test_read_tree(tmp_path):
    root = make_tree(tmp_path)
    files, links, unreadable = persisted_module.read_sysctl_files(str(root))
    assert sorted(files) == [
        "/etc/sysctl.conf",
        "/etc/sysctl.d/50-masked.conf",
        "/etc/sysctl.d/99-sysctl.conf",
        "/usr/lib/sysctl.d/10-vendor.conf",
        "/usr/lib/sysctl.d/50-masked.conf",
    ]
    assert links == {"/etc/sysctl.d/99-sysctl.conf": "/etc/sysctl.conf", "/etc/sysctl.d/50-masked.conf": "/dev/null"}
    assert unreadable == []
    module_files, module_links, _unreadable = persisted_module.read_module_load_files(str(root))
    assert module_files == {}
    assert module_links == {"/etc/modules-load.d/modules.conf": "/etc/modules"}
    result = persisted_module.persisted(
        files, module_files, present_keys=[KEY], builtin=False, sysctl_links=links, module_links=module_links
    )
    assert [(record["file"], record["value"], record["applies"]) for record in result["assignments"]] == [
        ("/usr/lib/sysctl.d/10-vendor.conf", 432000, True),
        ("/etc/sysctl.d/99-sysctl.conf", 1200, False),
    ]
    assert result["effective"] == {"file": "/usr/lib/sysctl.d/10-vendor.conf", "line": 1, "key": KEY, "value": 432000}
    assert result["sysctl_conf_linked"] is True
    assert result["module_loaded_at_boot"] is False


def test_read_tree_with_modules(tmp_path):
    root = make_tree(tmp_path)
    (root / "etc/modules").write_text("nf_conntrack\n")
    module_files, module_links, _unreadable = persisted_module.read_module_load_files(str(root))
    result = persisted_module.persisted({}, module_files, module_links=module_links)
    assert result["module_load_files"] == [
        {"file": "/etc/modules-load.d/modules.conf", "line": 1, "module": "nf_conntrack"}
    ]
