# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every bench/bench_*.py in turn (make bench); extra arguments (e.g. --quick) are passed to each.

Each benchmark measures its own baseline in the same run and exits 1 when it misses its goal; this exits 1 when
any of them did. A --quick run is a smoke test of the scripts (small tables); only full runs judge the goals.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys


def main():
    here = pathlib.Path(__file__).resolve().parent
    failed = []
    for script in sorted(here.glob("bench_*.py")):
        print("==> %s %s" % (script.name, " ".join(sys.argv[1:])), flush=True)
        if subprocess.run([sys.executable, str(script), *sys.argv[1:]], check=False).returncode != 0:
            failed.append(script.name)
    if failed:
        print("benchmarks that missed their goal or failed: %s" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
