"""Plain-text tables with aligned columns, for terminals and for pasting into Markdown."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["path_table", "render_table"]


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown pipe table padded so it also reads well as plain text.

    The first column is left-aligned, the others right-aligned (they hold numbers).
    """
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join("-" * (width + 1) + (":" if i else "-") for i, width in enumerate(widths))
        + "|"
    )
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def path_table(
    paths: Sequence[str],
    algorithms: Sequence[str],
    unit: str,
    cell: Callable[[str, str], tuple[str, str] | None],
) -> str:
    """One row per path, two columns per algorithm: ``cell(path, alg)`` gives the value
    (in ``unit``) and its ratio to the floor, or ``None`` where the path cannot run it."""
    header = ["path"]
    for alg in algorithms:
        header += [f"{alg} {unit}", "x floor"]
    rows = []
    for path in paths:
        row = [path]
        for alg in algorithms:
            row += cell(path, alg) or ("n/a", "")
        rows.append(row)
    return render_table(header, rows)
