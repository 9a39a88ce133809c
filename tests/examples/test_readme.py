"""Every ```python block of README.md runs: plain blocks are executed, blocks that define
tests are run by pytest (with the issuer's plugin) in a fresh directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[tuple[int, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in BLOCK.finditer(text)]


BLOCKS = python_blocks()


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_python_block_runs(line: int, code: str, tmp_path: Path) -> None:
    if re.search(r"^(async )?def test_", code, re.MULTILINE):
        test_file = tmp_path / f"test_readme_line{line}.py"
        test_file.write_text(code, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
        result = subprocess.run(
            [*command, test_file.name], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert " passed" in result.stdout
    else:
        namespace: dict[str, object] = {"__name__": f"readme_line{line}"}
        exec(compile(code, f"README.md:{line}", "exec"), namespace)
        assert len(namespace) > 1
