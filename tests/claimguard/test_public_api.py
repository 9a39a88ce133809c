from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import claimguard

SRC = Path(claimguard.__file__).parent


def test_all_is_sorted_and_importable() -> None:
    assert claimguard.__all__ == sorted(claimguard.__all__)
    for name in claimguard.__all__:
        assert getattr(claimguard, name) is not None


def test_every_error_derives_from_the_one_root() -> None:
    errors = [
        obj
        for name in claimguard.__all__
        if isinstance(obj := getattr(claimguard, name), type) and issubclass(obj, Exception)
    ]
    assert len(errors) >= 6
    assert all(issubclass(error, claimguard.ClaimGuardError) for error in errors)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_claimguard_never_imports_the_issuer() -> None:
    for path in SRC.glob("*.py"):
        assert "issuer" not in _imports(path), path.name


def test_only_the_verification_layer_imports_pyjwt() -> None:
    users = {path.name for path in SRC.glob("*.py") if "jwt" in _imports(path)}
    assert users <= {"_jwk.py"}


def test_the_issuer_never_imports_claimguard() -> None:
    issuer_src = SRC.parent / "issuer"
    for path in issuer_src.glob("*.py"):
        assert "claimguard" not in _imports(path), path.name


def test_import_works_without_the_optional_extras() -> None:
    # fastapi and mcp are extras: importing the core must not pull them in.
    code = "import sys, claimguard; print(sorted({'fastapi', 'mcp'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dpop_names_are_public() -> None:
    import claimguard.dpop

    assert issubclass(claimguard.UseDPoPNonce, claimguard.InvalidDPoPProof)
    assert issubclass(claimguard.InvalidDPoPProof, claimguard.ClaimGuardError)
    assert {"MemoryReplayStore", "ReplayStore", "ReplayStoreUnavailable"} <= set(
        claimguard.dpop.__all__
    )
    assert hasattr(claimguard.Claims, "dpop_jkt")
