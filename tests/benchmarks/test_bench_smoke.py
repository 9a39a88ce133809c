"""The benchmarks run and print complete tables. Their numbers are not checked here:
performance claims live in ``benchmarks/`` and BENCHMARKS.md, never in timed tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_benchmark(name: str, tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """Run ``benchmarks/<name>.py`` with ``args`` and return its output and its JSON report."""
    report = tmp_path / f"{name}.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            str(BENCHMARKS / f"{name}.py"),
            *args,
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=BENCHMARKS.parent,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""
    return finished.stdout, json.loads(report.read_text())


def table_rows(output: str) -> dict[str, list[str]]:
    """The body rows of the Markdown table(s) in ``output`` by first cell (headers left out)."""
    rows: dict[str, list[str]] = {}
    lines = output.splitlines()
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        is_header = following.startswith("|-")
        if line.startswith("| ") and not is_header:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_verify_prints_every_path_for_every_algorithm(tmp_path: Path) -> None:
    output, report = run_benchmark("verify", tmp_path, "--quick")
    rows = table_rows(output)
    paths = [
        "floor (cryptography)",
        "claimguard cold",
        "claimguard warm",
        # The OpenTelemetry SDK is in the dev extra, so the metered rows are measured too.
        "claimguard cold with otel metrics",
        "claimguard warm with otel metrics",
        "claimguard cold, 3 issuers",
        "claimguard cold, resolver",
        "claimguard DPoP cold",
        "claimguard DPoP warm",
        "minimal (yardstick)",
        "PyJWT",
        "joserfc",
        "authlib",
        "python-jose",
    ]
    assert set(paths) <= set(rows)
    for path in paths:
        cells = rows[path]
        assert len(cells) == 6, cells
        expected_na = path == "python-jose"
        assert (cells[4] == "n/a") is expected_na, (path, cells)
        assert all(cell.endswith("x") for cell in cells[1::2] if cell), (path, cells)
    assert rows["floor (cryptography)"][1::2] == ["1.00x"] * 3
    assert set(report["results"]) == set(paths)
    assert set(report["results"]["python-jose"]) == {"RS256", "ES256"}
    # DPoP is compared with the bearer row of the same token algorithm, cold and warm.
    ratios = report["dpop_over_bearer"]
    assert set(ratios) == {"claimguard DPoP cold", "claimguard DPoP warm"}
    assert all(set(by_alg) == {"RS256", "ES256", "EdDSA"} for by_alg in ratios.values())
    assert all(ratio > 0 for by_alg in ratios.values() for ratio in by_alg.values())
    assert "claimguard DPoP cold costs claimguard cold times" in output
    assert "claimguard DPoP warm costs claimguard warm times" in output
    assert all(len(algs) == 3 for path, algs in report["results"].items() if path != "python-jose")
    assert "claimguard cold costs the minimal yardstick times" in output
    for peer in ("PyJWT", "joserfc", "authlib", "python-jose"):
        assert f"claimguard cold is faster than {peer} by" in output
    for several in ("claimguard cold, 3 issuers", "claimguard cold, resolver"):
        assert f"{several} adds to claimguard cold (median of paired repeats): " in output
    assert len(report["targets"]) == 13
    assert report["machine"]["nproc"] >= 1


def test_jwks_abuse_counts_fetches_and_times_valid_tokens(tmp_path: Path) -> None:
    output, report = run_benchmark("jwks_abuse", tmp_path, "--requests", "400")
    rows = table_rows(output)
    assert {"claimguard cold", "claimguard warm"} <= set(rows)
    assert report["requests"] == 400
    assert report["valid_requests"] == 100
    assert report["fetches"]["claimguard cold, valid tokens only"] == 1
    assert sum(report["fetches_per_window"]) == report["fetches"]["claimguard cold, flooded"]
    for medians in report["valid_median_us"].values():
        assert medians["without_flood"] > 0
        assert medians["with_flood"] > 0
    assert "JWKS fetches by a flooded verifier" in output


def test_memory_reports_rss_and_a_bounded_cache(tmp_path: Path) -> None:
    output, report = run_benchmark("memory", tmp_path, "--tokens", "5000")
    rows = table_rows(output)
    assert [next(iter(rows)), list(rows)[-1]] == ["0", "5,000"]
    checkpoints = report["checkpoints"]
    assert checkpoints[-1]["tokens"] == 5000
    assert checkpoints[-1]["cached_tokens"] == 4096
    assert all(row["rss_mib"] > 0 for row in checkpoints)
    assert "RSS before" in output


def test_secret_burst_times_the_jwks_alone_and_during_both_bursts(tmp_path: Path) -> None:
    output, report = run_benchmark("secret_burst", tmp_path, "--requests", "30", "--probes", "40")
    rows = table_rows(output)
    phases = ["JWKS alone", "30 wrong client secrets", "30 wrong emails"]
    assert set(phases) <= set(rows)
    assert [phase["phase"] for phase in report["phases"]] == phases
    for phase in report["phases"]:
        assert phase["jwks_probes"] >= 1
        assert 0 < phase["jwks_p50_ms"] <= phase["jwks_p99_ms"] <= phase["jwks_max_ms"]
    alone, secrets, emails = report["phases"]
    assert alone["jwks_probes"] == 40
    # Answers, not times: one client is throttled after ten failures; unknown emails
    # (a different one each) are refused one by one.
    assert secrets["burst_statuses"]["401"] >= 10
    assert secrets["burst_statuses"]["429"] == 30 - secrets["burst_statuses"]["401"]
    assert emails["burst_statuses"] == {"400": 30}
    assert "goal: JWKS p99 during the wrong-secret burst under 100 ms" in output
    assert report["machine"]["nproc"] >= 1


@pytest.mark.parametrize(
    "name", ["verify", "instructions", "jwks_abuse", "memory", "middleware", "secret_burst"]
)
def test_benchmark_describes_itself(name: str) -> None:
    finished = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0
    assert "--quick" in finished.stdout
    assert "--json" in finished.stdout


@pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="valgrind is missing; scripts/test installs it"
)
def test_instructions_counts_every_path_under_callgrind(tmp_path: Path) -> None:
    output, report = run_benchmark("instructions", tmp_path, "--quick")
    rows = table_rows(output)
    assert {"floor (cryptography)", "claimguard cold", "minimal (yardstick)", "PyJWT"} <= set(rows)
    assert rows["floor (cryptography)"][1::2] == ["1.00x"] * 3
    assert rows["python-jose"][4] == "n/a"
    cold = report["results"]["claimguard cold"]
    floor = report["results"]["floor (cryptography)"]
    for alg in ("RS256", "ES256", "EdDSA"):
        # Counts, not times: verifying a token can only add instructions to the signature
        # check itself, and a cache hit must cost far less than either.
        assert cold[alg]["instructions"] > floor[alg]["instructions"] > 0
        warm = report["results"]["claimguard warm"][alg]["instructions"]
        assert warm < floor[alg]["instructions"] / 10
    assert "claimguard cold executes the minimal yardstick's instructions times" in output
