"""The package's layers: each folder imports only the layers below it, and no module
imports itself back through others.

From the bottom: the shared ``_errors``, ``_clock`` and ``_version``; ``jose`` (JWS, JWK,
JWKS); ``verification`` (claims, issuers, DPoP, the verifier); ``asgi`` (the HTTP layer);
``adapters`` (the MCP SDK's parts); and on top the public modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import claimguard

SRC = Path(claimguard.__file__).parent
LAYERS = ("", "jose", "verification", "asgi", "adapters")
FOUNDATION = {"claimguard._errors", "claimguard._clock", "claimguard._version"}


def _name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _rank(module: str) -> int:
    """Where ``module`` sits: 0 for the shared foundation, the top for the public modules."""
    parts = module.split(".")
    if len(parts) == 3 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return 0 if module in FOUNDATION else len(LAYERS)


def _runtime_imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    """The imports of ``path`` that run when it is imported (not those for the type checker)."""
    found: list[ast.ImportFrom | ast.Import] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING":
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def _claimguard_imports(path: Path) -> set[str]:
    package = _name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in _runtime_imports(path):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            names.add(".".join([*base, node.module]) if node.module else ".".join(base))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] == "claimguard"
        ):
            names.add(node.module)
    return names


def _third_party(path: Path) -> set[str]:
    names: set[str] = set()
    for node in _runtime_imports(path):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


MODULES = {_name(path): path for path in SRC.rglob("*.py")}


def test_every_module_sits_in_a_layer_folder_or_is_public_or_shared() -> None:
    for module in MODULES:
        parts = module.split(".")
        if len(parts) == 3:
            assert parts[1] in LAYERS, module
        else:
            assert len(parts) <= 2, module
            private = parts[-1].startswith("_")
            assert not private or module in FOUNDATION, module


def test_layer_folders_hold_only_a_docstring_in_their_init() -> None:
    for layer in LAYERS[1:]:
        tree = ast.parse((SRC / layer / "__init__.py").read_text())
        assert len(tree.body) == 1, layer
        assert isinstance(tree.body[0], ast.Expr), layer
        assert isinstance(tree.body[0].value, ast.Constant), layer


def test_each_layer_imports_only_itself_and_the_layers_below() -> None:
    for module, path in MODULES.items():
        for imported in _claimguard_imports(path):
            assert imported in MODULES, (module, imported)
            assert _rank(imported) <= _rank(module), f"{module} imports {imported}"


def test_no_import_cycles() -> None:
    graph = {module: _claimguard_imports(path) & MODULES.keys() for module, path in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, " -> ".join([*trail, module])
        if module in done:
            return
        for imported in graph[module]:
            visit(imported, (*trail, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_only_the_jwk_module_imports_pyjwt() -> None:
    users = {_name(path) for path in MODULES.values() if "jwt" in _third_party(path)}
    assert users == {"claimguard.jose._jwk"}


def test_only_the_http_layer_and_above_import_starlette() -> None:
    for module, path in MODULES.items():
        if "starlette" in _third_party(path):
            assert _rank(module) >= LAYERS.index("asgi"), module


def test_only_the_adapters_import_the_mcp_sdk() -> None:
    users = {_name(path) for path in MODULES.values() if "mcp" in _third_party(path)}
    assert users == {"claimguard.adapters._mcpsdk"}
