# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped ansible.cfg keeps SSH host key checking on: an audit of a fleet must not trust any host key."""

from __future__ import annotations

import configparser
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_host_key_checking_is_not_turned_off():
    config = configparser.ConfigParser()
    config.read(REPO / "ansible.cfg")
    assert config.has_section("defaults")  # the file was read
    assert config.getboolean("defaults", "host_key_checking", fallback=True) is True
    for section in config.sections():
        assert "host_key_checking" not in config[section], section
