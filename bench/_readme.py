"""The README's figures, one line each, written from bench/results/latest.json (`python -m bench --readme`).

The lines go between BEGIN and END in README.md; everything else in the file is left as it is. The
README has a hard size limit: a rewrite that would pass it is refused and the file left untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import ROOT, figure_sort_key

README = ROOT / "README.md"
README_LIMIT = 12_288  # bytes
BEGIN = "<!-- figures -->"  # the lines between are `python -m bench --readme`'s
END = "<!-- /figures -->"


class ReadmeError(Exception):
    """The README cannot be rewritten (no markers, a results file that is not one, a line too many bytes)."""


def _amounts(value: float, baseline: float, unit: str) -> str:
    """ "9.1 vs 6.2 ms", "1.92 vs 0.65 s", "3,158 vs 3,702 appends/s": both in the larger one's scale."""
    if unit != "s":
        return f"{value:,.0f} vs {baseline:,.0f} {unit}"
    if max(value, baseline) < 1:
        return f"{value * 1000:.3g} vs {baseline * 1000:.3g} ms"
    return f"{value:.3g} vs {baseline:.3g} s"


def figure_line(figure_id: str, entry: dict) -> str:
    """One figure: id, what, goal, ratio and amounts, size, queries, met or missed (the README says once how to
    run one figure: `--only <id>`)."""
    title = entry.get("title") or ""
    goal = entry.get("goal") or ""
    parts = [f"- **{figure_id}** {title}".rstrip()]
    if goal:
        parts.append(f"goal {goal}")
    measured = f"{entry['ratio']:.2f}x {entry['size']} ({_amounts(entry['value'], entry['baseline'], entry['unit'])})"
    if entry.get("queries") is not None:
        measured += f", {entry['queries']} queries"
    met = entry.get("met")
    if met is not None:
        measured += ": met" if met else ": missed"
    parts.append(measured)
    return " — ".join(parts)


def figures_block(results: dict) -> str:
    """Every figure of `results` (latest.json's object), one line each, in id order."""
    lines = [figure_line(fid, results[fid]) for fid in sorted(results, key=figure_sort_key)]
    return "\n".join(lines)


def with_figures(text: str, results: dict) -> str:
    """`text` (the README) with the lines between BEGIN and END replaced by `results`' figures."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start or text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ReadmeError(f"the README needs exactly one {BEGIN!r} line and one {END!r} line after it")
    block = figures_block(results)
    new = text[: start + len(BEGIN)] + "\n" + (block + "\n" if block else "") + text[end:]
    size = len(new.encode())
    if size > README_LIMIT:
        raise ReadmeError(
            f"the README would be {size:,} bytes, over its limit of {README_LIMIT:,}: shorten a figure's title"
        )
    return new


def read_results(path: Path) -> dict:
    """latest.json's object; ReadmeError when it is missing or not an object of entries."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ReadmeError(f"cannot read {path}: {error}") from None
    required = {"value", "baseline", "ratio", "unit", "size"}
    if not isinstance(results, dict) or not all(
        isinstance(entry, dict) and required <= entry.keys() for entry in results.values()
    ):
        raise ReadmeError(f"{path} is not an object of figures, each with {', '.join(sorted(required))}")
    return results


def readme_update(readme: Path, results_path: Path) -> str:
    """Rewrite `readme`'s figures from `results_path`; returns the new block (the file is unchanged on error)."""
    text = readme.read_text()
    new = with_figures(text, read_results(results_path))
    if new != text:
        tmp = readme.with_suffix(".tmp")
        tmp.write_text(new)
        tmp.replace(readme)
    return figures_block(read_results(results_path))
