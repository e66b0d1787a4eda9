# SPDX-License-Identifier: GPL-3.0-or-later
"""The netdiag.tcp.parse filter: captured command output -> the same data the fact modules return."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import kdb_sockinfo as aix_kdb_sockinfo
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import netstat as aix_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import no as aix_no
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import rmsock as aix_rmsock
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack_stat as linux_conntrack_stat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import proc_net_tcp as linux_proc_net_tcp
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import slabinfo as linux_slabinfo
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import ss as linux_ss
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import ipadm_prop as sunos_ipadm_prop
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import ndd as sunos_ndd
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import netstat as sunos_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import pfiles as sunos_pfiles

# FORMAT -> the parser module's pure parse(text, **options). A new platform adds its parser file and its lines here.
PARSERS = {
    "linux_proc_net_tcp": linux_proc_net_tcp.parse,
    "linux_netstat": linux_netstat.parse,
    "linux_ss": linux_ss.parse,
    "linux_conntrack": linux_conntrack.parse,
    "linux_conntrack_stat": linux_conntrack_stat.parse,
    "linux_slabinfo": linux_slabinfo.parse,
    "aix_netstat": aix_netstat.parse,
    "aix_rmsock": aix_rmsock.parse,
    "aix_kdb_sockinfo": aix_kdb_sockinfo.parse,
    "aix_no": aix_no.parse,
    "sunos_netstat": sunos_netstat.parse,
    "sunos_pfiles": sunos_pfiles.parse,
    "sunos_ndd": sunos_ndd.parse,
    "sunos_ipadm_prop": sunos_ipadm_prop.parse,
}

# Options whose default differs between the filter and the module. A pasted slabinfo is read whole: every cache
# unless `names` is given (slabinfo_facts keeps its conntrack-caches default, its purpose being conntrack).
FILTER_DEFAULTS = {
    "linux_slabinfo": {"names": ""},
}


def parse(text, format_name=None, **options):
    """Parse TEXT (a string, or a list of lines as registered stdout_lines) captured in FORMAT."""
    if format_name is None:
        known = ", ".join(sorted(PARSERS))
        raise AnsibleFilterError("netdiag.tcp.parse needs a format, e.g. parse('linux_ss'); known: %s" % known)
    parser = PARSERS.get(format_name)
    if parser is None:
        raise AnsibleFilterError(
            "netdiag.tcp.parse: unknown format %r; known formats: %s" % (format_name, ", ".join(sorted(PARSERS)))
        )
    if isinstance(text, (list, tuple)):
        text = "\n".join(to_text(line) for line in text)
    elif not isinstance(text, str):
        raise AnsibleFilterError(
            "netdiag.tcp.parse(%s): expected text or a list of lines, got %s" % (format_name, type(text).__name__)
        )
    options = dict(FILTER_DEFAULTS.get(format_name, {}), **options)
    try:
        return parser(text, **options)
    except ParseError as error:
        message = error.detail if error.format_name == format_name else str(error)
        raise AnsibleFilterError("netdiag.tcp.parse(%s): %s" % (format_name, message)) from error
    except (TypeError, ValueError) as error:
        # TypeError: an option the parser does not take; ValueError: a bad option value (ports, peers, top...).
        raise AnsibleFilterError("netdiag.tcp.parse(%s): bad option: %s" % (format_name, error)) from error


class FilterModule:
    def filters(self):
        return {"parse": parse}
