# SPDX-License-Identifier: GPL-3.0-or-later
"""Every regular expression that reads host text runs in linear time on crafted worst cases.

A raw-mode audit and an offline analysis parse whatever a host or a capture folder hands the controller: one
pattern that backtracks polynomially (aix_kdb_sockinfo's section pattern was cubic on a line of dashes: 2,000 dashes
took 14 s) stalls every healthy host's report with it. The patterns are found by walking the modules of
plugins/module_utils and plugins/plugin_utils/textfacts (every compiled pattern in their globals), by reading their
source for re.search/match/findall... calls with a literal pattern, and for re.compile calls inside functions
(those must be listed in FACTORIES), so a new pattern is covered without editing this file, or the test says
which one it cannot reach.

The inputs are made from each pattern's own syntax tree, as ReDoS scanners do: for every repetition, the text that
reaches it (a minimal match of what comes before), a long run of what the repetition accepts, then a character
that makes the match fail (or none). Each is timed in CPU time, best of several runs, at two sizes four times
apart; linear growth gives about 4x, quadratic 16x, so more than 10x fails. The small size is kept small so that a
cubic pattern fails in seconds rather than minutes.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import pathlib
import pkgutil
import re
import time

import pytest

try:  # Python 3.11+
    from re import _compiler as sre_compile
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_compile
    import sre_constants
    import sre_parse

from ansible_collections.netdiag.tcp.plugins.module_utils.aix import kdb_sockinfo as aix_kdb_sockinfo
from ansible_collections.netdiag.tcp.plugins.module_utils.aix import rmsock as aix_rmsock
from ansible_collections.netdiag.tcp.plugins.module_utils.core.parse_error import ParseError
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import conntrack as linux_conntrack
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import netstat as linux_netstat
from ansible_collections.netdiag.tcp.plugins.module_utils.linux import slabinfo as linux_slabinfo
from ansible_collections.netdiag.tcp.plugins.module_utils.sunos import netstat as sunos_netstat

PACKAGES = (
    "ansible_collections.netdiag.tcp.plugins.module_utils",
    "ansible_collections.netdiag.tcp.plugins.plugin_utils.textfacts",
)
# Patterns compiled inside functions (from parts, per ports filter): how to get them with typical arguments.
FACTORIES = {
    "module_utils.linux.conntrack._entry_patterns": lambda: [
        *linux_conntrack._entry_patterns(frozenset()),
        *linux_conntrack._entry_patterns(frozenset((5555, 80))),
    ],
    "module_utils.linux.netstat._row_pattern": lambda: [linux_netstat._row_pattern({5555, 22})],
    "module_utils.linux.slabinfo.parse": lambda: [re.compile(linux_slabinfo.CONNTRACK_CACHES)],
}
# Characters tried for a character class: dashes, spaces, word characters, digits, colons and the punctuation the
# host formats use.
CANDIDATES = "a0-: \tZf._=()@/[]x,\"\\*+<>!?;#%&'|~^$`{}\n"
FAILING_TAILS = ("", "\x01", "\n\x01")
SMALL, LARGE = 256, 1024  # repetitions of the pumped text
GROWTH_LIMIT = 10.0  # linear: ~4x for 4x the input; quadratic: ~16x
RUNS = 3
MINIMUM_CPU_SECONDS = 0.002  # the small input is repeated until one run takes this long
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
if hasattr(sre_constants, "POSSESSIVE_REPEAT"):
    _REPEATS.add(sre_constants.POSSESSIVE_REPEAT)


def _modules():
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        # walk_packages: module_utils is nested (core/, linux/, ...); a flat walk would skip every pattern in them.
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if not info.ispkg:
                yield importlib.import_module(info.name)


def _short(module):
    """The module's path below plugins/, dotted: module_utils.linux.conntrack, plugin_utils.textfacts.linux."""
    return module.__name__.split(".plugins.", 1)[1]


def _compile_calls_in_functions(module):
    """'<module>.<function>' for each re.compile call that is not a module-level assignment."""
    tree = ast.parse(pathlib.Path(module.__file__).read_text(encoding="utf-8"))
    found = set()
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "compile"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "re"
                ):
                    found.add("%s.%s" % (_short(module), function.name))
    return found


def _module_level_compile_count(module):
    tree = ast.parse(pathlib.Path(module.__file__).read_text(encoding="utf-8"))
    count = 0
    for statement in tree.body:
        for node in ast.walk(statement):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                break
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "compile"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "re"
            ):
                count += 1
    return count


_MODULE_FUNCTIONS = ("search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split")


def _literal_patterns(module):
    """('<module>:<line>', compiled) for each re.search/match/findall... called with a literal pattern (re caches
    those compiled patterns: they read host text as much as the module-level ones)."""
    tree = ast.parse(pathlib.Path(module.__file__).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _MODULE_FUNCTIONS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            flags = [keyword.value for keyword in node.keywords if keyword.arg == "flags"]
            if not flags and len(node.args) > 2 + (node.func.attr in ("sub", "subn")):
                flags = [node.args[-1]]
            # The flags expression of our own source (re.M ...), evaluated with nothing but re in scope.
            value = eval(compile(ast.Expression(flags[0]), "<flags>", "eval"), {"re": re}) if flags else 0
            short = _short(module)
            found.append(("%s:%d" % (short, node.lineno), re.compile(node.args[0].value, value)))
    return found


def _patterns():
    found = []
    for module in _modules():
        short = _short(module)
        globals_found = [(name, value) for name, value in sorted(vars(module).items()) if isinstance(value, re.Pattern)]
        found.extend(("%s.%s" % (short, name), value) for name, value in globals_found)
        found.extend(_literal_patterns(module))
    for name, factory in sorted(FACTORIES.items()):
        found.extend(("%s[%d]" % (name, index), pattern) for index, pattern in enumerate(factory()))
    return found


PATTERNS = _patterns()


def test_every_compile_call_is_covered():
    """A re.compile inside a function needs an entry in FACTORIES; every module-level one is a global found here."""
    in_functions = set()
    for module in _modules():
        in_functions |= _compile_calls_in_functions(module)
        short = _short(module)
        globals_found = [name for name in vars(module) if isinstance(vars(module)[name], re.Pattern)]
        assert len(globals_found) >= _module_level_compile_count(module), short
    assert in_functions == set(FACTORIES)
    assert len(PATTERNS) > 40  # the walk found the modules' patterns, not nothing


def _single(item, flags):
    return sre_compile.compile(sre_parse.SubPattern(sre_parse.State(), [item]), flags)


def _matching_characters(item, flags):
    try:
        compiled = _single(item, flags)
    except Exception:  # an item that cannot stand alone (a group reference) has no candidates
        return []
    return [character for character in CANDIDATES if compiled.fullmatch(character)]


def _example(items, flags):
    """A short text that the sequence of parsed items matches (best effort: used as a prefix to reach a repeat)."""
    text = []
    for operation, argument in items:
        if operation == sre_constants.LITERAL:
            text.append(chr(argument))
        elif operation == sre_constants.NOT_LITERAL:
            text.append("a" if argument != ord("a") else "b")
        elif operation == sre_constants.ANY:
            text.append("a")
        elif operation == sre_constants.IN:
            characters = _matching_characters((operation, argument), flags)
            text.append(characters[0] if characters else "a")
        elif operation in _REPEATS:
            minimum, _maximum, body = argument
            text.append(_example(body, flags) * minimum)
        elif operation == sre_constants.SUBPATTERN:
            text.append(_example(argument[-1], flags))
        elif operation == getattr(sre_constants, "ATOMIC_GROUP", None):
            text.append(_example(argument, flags))
        elif operation == sre_constants.BRANCH:
            text.append(_example(argument[1][0], flags))
    return "".join(text)


def _pumps(items, prefix, flags):
    """(prefix, pumped unit) for every repetition in the items, reached through groups and every alternative."""
    for index, (operation, argument) in enumerate(items):
        before = prefix + _example(items[:index], flags)
        if operation in _REPEATS:
            body = argument[2]
            units = {_example(body, flags)}
            if len(body) == 1:
                units.update(_matching_characters(body[0], flags))
            units.discard("")
            for unit in sorted(units):
                yield before, unit
            yield from _pumps(list(body), before, flags)
        elif operation == sre_constants.SUBPATTERN:
            yield from _pumps(list(argument[-1]), before, flags)
        elif operation == getattr(sre_constants, "ATOMIC_GROUP", None):
            yield from _pumps(list(argument), before, flags)
        elif operation == sre_constants.BRANCH:
            for alternative in argument[1]:
                yield from _pumps(list(alternative), before, flags)


def worst_cases(pattern):
    """Texts of SMALL and LARGE pumped repetitions, for every repetition of the pattern and every failing tail."""
    source = pattern.pattern if isinstance(pattern.pattern, str) else pattern.pattern.decode("latin-1")
    flags = pattern.flags & ~re.UNICODE if isinstance(pattern.pattern, bytes) else pattern.flags
    parsed = sre_parse.parse(source, flags)
    cases = {(prefix, unit, tail) for prefix, unit in _pumps(list(parsed), "", flags) for tail in FAILING_TAILS}
    # Plain runs of each candidate too: a line of dashes, of spaces, of digits, reached from the line start.
    cases |= {("", character, tail) for character in CANDIDATES for tail in FAILING_TAILS}
    cases |= {("\n", character, tail) for character in CANDIDATES for tail in FAILING_TAILS}
    for prefix, unit, tail in sorted(cases):
        yield (prefix, unit, tail), prefix + unit * SMALL + tail, prefix + unit * LARGE + tail


def _cpu_seconds(function, argument, repeat):
    start = time.process_time()
    for _repetition in range(repeat):
        function(argument)
    return time.process_time() - start


def growth(function, small, large):
    """CPU time on the large input over the small one: the small input's best of RUNS (repeated to be measurable),
    the large input's best of up to RUNS (stopping at the first run within GROWTH_LIMIT: it cannot get slower)."""
    repeat = 1
    while _cpu_seconds(function, small, repeat) < MINIMUM_CPU_SECONDS and repeat < 1 << 16:
        repeat *= 4
    small_seconds = max(min(_cpu_seconds(function, small, repeat) for _run in range(RUNS)), 1e-9)
    best = None
    for _run in range(RUNS):
        ratio = _cpu_seconds(function, large, repeat) / small_seconds
        best = ratio if best is None else min(best, ratio)
        if best <= GROWTH_LIMIT:
            break
    return best


def _screen(function, text):
    """True when one run on the text is so fast that it cannot be polynomial (skips the slow ratio measurement)."""
    start = time.process_time()
    function(text)
    return time.process_time() - start < 0.0002


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[name for name, _pattern in PATTERNS])
def test_pattern_is_linear(name, pattern):
    convert = (lambda text: text.encode("latin-1")) if isinstance(pattern.pattern, bytes) else (lambda text: text)
    for case, small, large in worst_cases(pattern):
        small, large = convert(small), convert(large)
        if _screen(pattern.search, large):
            continue
        # search tries every start position: the worst of match, fullmatch, finditer and findall.
        ratio = growth(pattern.search, small, large)
        if ratio > GROWTH_LIMIT:
            ratio = growth(pattern.search, small, large)  # measured again: a busy machine gets a second chance
        assert ratio <= GROWTH_LIMIT, "%s grows faster than its input: %r + %r x %d + %r: %.1fx for 4x the text" % (
            name,
            case[0],
            case[1][:20],
            SMALL,
            case[2],
            ratio,
        )


def _swallow(parser):
    """The parser, with its ParseError for unreadable text counted as an answer (only the time matters here)."""

    def run(text):
        with contextlib.suppress(ParseError):
            parser(text)

    return run


# (name, parser, text for a size): the hostile lines of the issue, through the parsers that read them end to end.
END_TO_END = [
    ("kdb line of dashes", aix_kdb_sockinfo.parse, lambda size: "-" * size + "\n"),
    ("kdb dashes then a section end", aix_kdb_sockinfo.parse, lambda size: "--" + "-" * size + "x\n"),
    ("kdb long word", aix_kdb_sockinfo.parse, lambda size: "t_state" * size + "\n"),
    ("kdb open brackets", aix_kdb_sockinfo.parse, lambda size: "opts.... 0004 (" * size + "\n"),
    ("conntrack line of spaces", linux_conntrack.parse, lambda size: "\n" + " " * (size * 16) + "\x01\n"),
    ("sunos section of spaces", sunos_netstat.parse, lambda size: "TCP:" + " " * (size * 16) + "x\n"),
    ("rmsock error of tabs", aix_rmsock.parse, lambda size: "rmsock:" + "\t" * (size * 16) + "\x01\n"),
]


@pytest.mark.parametrize(("parser", "text"), [case[1:] for case in END_TO_END], ids=[case[0] for case in END_TO_END])
def test_parser_is_linear_on_hostile_text(parser, text):
    ratio = growth(_swallow(parser), text(SMALL), text(LARGE))
    if ratio > GROWTH_LIMIT:
        ratio = growth(_swallow(parser), text(SMALL), text(LARGE))
    assert ratio <= GROWTH_LIMIT, "%.1fx for 4x the text" % ratio
