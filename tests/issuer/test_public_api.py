import issuer


def test_all_is_sorted_and_importable() -> None:
    assert issuer.__all__ == sorted(issuer.__all__)
    for name in issuer.__all__:
        assert getattr(issuer, name) is not None


def test_the_plugin_module_imports_nothing_heavy() -> None:
    import ast
    from pathlib import Path

    source = Path(issuer.__file__).with_name("pytest_plugin.py").read_text()
    top_level = {
        alias.name
        for node in ast.parse(source).body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert top_level <= {"annotations", "Iterator", "Path", "TYPE_CHECKING", "pytest"}
