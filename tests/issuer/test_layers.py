"""The issuer's folders are its layers: each module imports only its own layer or lower
ones, and no modules import each other in a cycle."""

import ast
from pathlib import Path

import issuer

PACKAGE = Path(issuer.__file__).parent

#: Lowest first. The package root holds the facade (``Issuer`` and what builds it) above
#: the endpoints, then the command line's parts, then the public entry points.
LAYERS = ["core", "actions", "tokens", "login", "oauth", "console", "", "cli", "entry"]
ENTRY_POINTS = {"issuer", "issuer.__main__", "issuer.pytest_plugin"}

#: The endpoints that still take the facade as a parameter, naming its type only for
#: typing: the one upward reference allowed, and only to them.
TYPE_ONLY_UPWARD = {
    "issuer._issuer": {
        "issuer.oauth._authorize",
        "issuer.console._devconsole",
        "issuer.console._tryaction",
    }
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    if module in ENTRY_POINTS:
        return "entry"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """Each issuer module ``module`` imports, anywhere in it, and whether only for typing."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom):
                base = package.split(".")
                if child.level:
                    base = base[: len(base) - child.level + 1]
                    target = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    target = child.module or ""
                if target == "issuer" or target.startswith("issuer."):
                    # ``from . import _x`` imports the module ``_x``.
                    submodules = [f"{target}.{a.name}" for a in child.names]
                    known = [m for m in submodules if (PACKAGE.parent / _file(m)).exists()]
                    for name in known or [target]:
                        found.append((name, typing_only))
            elif isinstance(child, ast.Import):
                found.extend((a.name, typing_only) for a in child.names if a.name == "issuer")
            visit(child, typing_only or (isinstance(child, ast.If) and _is_type_checking(child)))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _file(module: str) -> Path:
    return Path(*module.split(".")).with_suffix(".py")


def _graph() -> dict[str, list[tuple[str, bool]]]:
    return {_module_name(p): _imports(p, _module_name(p)) for p in PACKAGE.rglob("*.py")}


def test_the_layers_are_the_folders() -> None:
    layers = {_layer(m) for m in _graph()}
    assert layers == set(LAYERS)


def test_each_module_imports_only_its_layer_or_lower_ones() -> None:
    upward = []
    for module, imports in _graph().items():
        rank = LAYERS.index(_layer(module))
        for target, typing_only in imports:
            if typing_only and module in TYPE_ONLY_UPWARD.get(target, set()):
                continue
            if LAYERS.index(_layer(target)) > rank:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_import_cycles() -> None:
    graph = {
        module: {target for target, typing_only in imports if not typing_only}
        for module, imports in _graph().items()
    }
    cycles = []
    done: set[str] = set()

    def walk(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(" -> ".join([*path[path.index(module) :], module]))
            return
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            walk(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        walk(module, [])
    assert cycles == []
