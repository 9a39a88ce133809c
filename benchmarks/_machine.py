"""What the numbers were measured on: cores, CPU, Python and the libraries compared.

``python benchmarks/_machine.py`` prints it; every ``--json`` report embeds it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["describe", "machine", "write_results"]

_DISTRIBUTIONS = (
    "claimguard-asgi",
    "cryptography",
    "PyJWT",
    "joserfc",
    "authlib",
    "python-jose",
    "httpx",
    "starlette",
    "uvicorn",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    """The checked-out commit of the code measured, marked when the tree has changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.decode().strip() + (" (src modified)" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    """The machine and software versions, as a JSON-ready dictionary."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": cores,
        "cpu": _cpu_model(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "commit": _commit(),
        "versions": {name: _version(name) for name in _DISTRIBUTIONS},
    }


def describe() -> str:
    """The machine and software versions as a few lines of text."""
    info = machine()
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    return (
        f"machine: {info['nproc']} cores ({info['cpu']}), {info['platform']}, "
        f"load average {info['load_average_1min']}\n"
        f"python:  {info['python']}; claimguard at commit {info['commit']}\n"
        f"libs:    {versions}"
    )


if __name__ == "__main__":
    print(describe())


def write_results(path: str, benchmark: str, results: dict[str, Any]) -> None:
    """Write one benchmark's ``--json`` report: its name, the machine, then its results."""
    document = {"benchmark": benchmark, "machine": machine(), **results}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
