"""``benchmarks/load_with_faults.py`` runs briefly, prints its tables and judges the run.

Only the verdicts are asserted (no 5xx, no valid token refused, bounded JWKS fetches),
never a rate or a latency: those live in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load_with_faults.py"
PHASES = [
    "steady, first key",
    "next key published",
    "JWKS down",
    "JWKS down, new key signing",
    "JWKS back",
    "second rotation",
    "all",
]


def run_script(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    report = tmp_path / "load.json"
    finished = subprocess.run(
        [sys.executable, "-W", "error", str(SCRIPT), *args, "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SCRIPT.parents[1],
    )
    # Nothing on stderr but the API's own warnings about the JWKS outage the run injects.
    for line in finished.stderr.splitlines():
        assert "cannot be fetched" in line, finished.stderr
        assert "answered HTTP 503" in line or "identical failure" in line, finished.stderr
    return finished, json.loads(report.read_text())


def rows(output: str) -> dict[str, list[str]]:
    """Body rows of the Markdown tables, by first cell."""
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and not set(cells[1] if len(cells) > 1 else "") <= {"-", ":"}:
            found[cells[0]] = cells[1:]
    return found


def test_a_short_run_passes_and_prints_the_table(tmp_path: Path) -> None:
    finished, report = run_script(tmp_path, "--seconds", "5", "--clients", "8")
    assert finished.returncode == 0, finished.stdout
    table = rows(finished.stdout)
    assert set(PHASES) <= set(table)
    requests, ok, unauthorized, server_errors, other = (
        int(cell.replace(",", "")) for cell in table["all"][1:6]
    )
    assert requests == ok + unauthorized + server_errors + other
    assert requests > 0
    assert unauthorized > 0  # invalid tokens were sent, and refused
    assert server_errors == other == 0
    assert table["valid tokens refused"][0] == "0"
    fetches, bound = table["JWKS fetches by the API"][0:2]
    assert int(fetches) <= int(bound.removeprefix("<= "))
    assert finished.stdout.rstrip().endswith("PASS")
    assert all(check["passed"] for check in report["checks"])
    assert report["jwks"]["refused"] >= 1


def test_a_key_signing_before_anyone_could_fetch_it_fails_the_run(tmp_path: Path) -> None:
    finished, report = run_script(tmp_path, "--seconds", "3", "--unannounced-rotation")
    assert finished.returncode == 1
    assert finished.stdout.rstrip().endswith("FAIL")
    failed = {check["check"] for check in report["checks"] if not check["passed"]}
    assert "valid tokens refused" in failed
    assert "5xx responses" not in failed
