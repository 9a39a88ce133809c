"""Instructions per token, counted by callgrind: the same paths as ``verify.py``, without noise.

    python benchmarks/instructions.py [--quick] [--json FILE]

Time on a shared machine wanders; instruction counts do not. This runs one child process
under ``valgrind --tool=callgrind`` that prepares exactly what ``verify.py`` measures (same
keys, tokens, verifiers and peers), then runs each (path, algorithm) loop between two calls
of ``time.sleep(0)``. Callgrind is told to close a count at every such call
(``--dump-before=time_sleep``), so each loop gets a count of its own; divided by the loop's
length it is the instructions per token.

How to read it next to ``verify.py``: both give ratios to the same floor. An instruction of
the interpreter takes longer than one of OpenSSL's big-number code, so the time ratios are
higher than these; the gap belongs to the machine and the interpreter build, and a core
that runs interpreted code faster brings the time ratios toward these.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _machine import describe, write_results
from _table import path_table
from _tokens import ALGORITHMS, make_key
from verify import COLD, FLOOR, MINIMAL, PATHS, PEERS, prepare_loops

MARKER = "time_sleep"  # the C function behind time.sleep in CPython


def _close_count() -> None:
    """Under callgrind, end the current count here: a call into :data:`MARKER`."""
    time.sleep(0)


async def _child(loop_length: int) -> None:
    """Under callgrind: print each measured (path, algorithm), then run its loop alone."""
    keys = {alg: make_key(alg) for alg in ALGORITHMS}
    tokens = {alg: key.mint() for alg, key in keys.items()}
    loops, resources = await prepare_loops(keys, tokens)
    order = [(path, alg) for alg in ALGORITHMS for path in PATHS if (path, alg) in loops]
    print("\n".join(f"{path}\t{alg}" for path, alg in order), flush=True)
    gc.disable()
    for key in order:
        _close_count()  # everything before the loop ...
        await loops[key](loop_length)
        _close_count()  # ... and the loop alone
        gc.collect()
    for resource in resources:
        await resource.aclose()


def count(loop_length: int) -> dict[tuple[str, str], float]:
    """Run the child under callgrind; instructions per token for every (path, algorithm)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as out:
        child = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--dump-before={MARKER}",
                f"--callgrind-out-file={out}/callgrind.out",
                sys.executable,
                __file__,
                "--child",
                str(loop_length),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"the child failed under callgrind:\n{child.stderr[-2000:]}")
        order = [tuple(line.split("\t")) for line in child.stdout.splitlines() if "\t" in line]
        # Dump n closes the part before the n-th marker: 1 is start-up, then each loop is
        # an even-numbered dump (its opening marker closes the odd one before it).
        totals = {n: _total(Path(out, f"callgrind.out.{n}")) for n in range(1, 2 * len(order) + 1)}
    return {(path, alg): totals[2 * (i + 1)] / loop_length for i, (path, alg) in enumerate(order)}


def _total(dump: Path) -> int:
    if not dump.exists():
        raise SystemExit(
            f"callgrind wrote no {dump.name}: this interpreter has no '{MARKER}' symbol to "
            "split the count at"
        )
    for line in dump.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise SystemExit(f"{dump.name} has no totals line")


def _ratio(counts: dict[tuple[str, str], float], path: str, alg: str, base: str) -> float:
    return counts[path, alg] / counts[base, alg]


def report(counts: dict[tuple[str, str], float], loop_length: int) -> str:
    def cell(path: str, alg: str) -> tuple[str, str] | None:
        if (path, alg) not in counts:
            return None
        ratio = _ratio(counts, path, alg, FLOOR)
        return f"{counts[path, alg] / 1000:.1f}", f"{ratio:.2f}x"

    versus_minimal = ", ".join(
        f"{_ratio(counts, COLD, alg, MINIMAL):.2f}x ({alg})" for alg in ALGORITHMS
    )
    lines = [
        f"Instructions per token (callgrind, loops of {loop_length}, thousands)",
        "",
        # The rows counted: verify.py's DPoP rows are timed only (see its prepare_loops).
        path_table(
            [path for path in PATHS if any((path, alg) in counts for alg in ALGORITHMS)],
            ALGORITHMS,
            "k instr",
            cell,
        ),
        "",
        f"claimguard cold executes the minimal yardstick's instructions times {versus_minimal}",
    ]
    for peer in PEERS:
        parts = [
            f"{_ratio(counts, peer, alg, COLD):.2f}x ({alg})"
            for alg in ALGORITHMS
            if (peer, alg) in counts
        ]
        lines.append(f"{peer} executes claimguard cold's instructions times " + ", ".join(parts))
    return "\n".join(lines)


def to_json(counts: dict[tuple[str, str], float]) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    for (path, alg), instructions in counts.items():
        results.setdefault(path, {})[alg] = {
            "instructions": round(instructions),
            "ratio_to_floor": round(_ratio(counts, path, alg, FLOOR), 3),
        }
    return {"results": results}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short loops (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--child", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        asyncio.run(_child(args.child))
        return 0
    loop_length = 5 if args.quick else 200
    print(describe(), end="\n\n", flush=True)
    counts = count(loop_length)
    print(report(counts, loop_length))
    if args.json:
        write_results(args.json, "instructions", to_json(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
