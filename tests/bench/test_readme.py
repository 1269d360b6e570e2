"""`python -m bench --readme`: the README's figures written from a results file, one line each."""

from __future__ import annotations

import json

import pytest

import bench
from bench._readme import BEGIN, END, README, README_LIMIT, ReadmeError, figure_line, readme_update, with_figures

SAMPLE = {
    "P2": {
        "value": 0.0091,
        "baseline": 0.0062,
        "ratio": 1.4677,
        "unit": "s",
        "queries": 8,
        "size": "full",
        "engine": "PostgreSQL 15.20",
        "commit": "399b2d37107c",
        "when": "2026-12-04T01:00:00+00:00",
        "cores": 2,
        "title": "governed record page vs the same page ungoverned",
        "goal": "≤ 1.5x",
        "met": True,
    },
    "P5": {
        "value": 2950.0,
        "baseline": 3702.0,
        "ratio": 0.7969,
        "unit": "appends/s",
        "queries": None,
        "size": "small",
        "title": "record reads per second, 16 writers",
        "goal": "≥ 3,000/s and ≥ 0.85x",
        "met": False,
    },
    "P10": {"value": 1.92, "baseline": 1.21, "ratio": 1.5868, "unit": "s", "queries": 31, "size": "full"},
}

README_TEXT = f"# Title\n\nIntro.\n\n{BEGIN}\n- **P1** old line — `--only P1`\n{END}\n\n## After\n"


def test_each_figure_one_line_with_goal_ratio_size_and_verdict():
    assert figure_line("P2", SAMPLE["P2"]) == (
        "- **P2** governed record page vs the same page ungoverned — goal ≤ 1.5x — "
        "1.47x full (9.1 vs 6.2 ms), 8 queries: met"
    )
    assert figure_line("P5", SAMPLE["P5"]) == (
        "- **P5** record reads per second, 16 writers — goal ≥ 3,000/s and ≥ 0.85x — "
        "0.80x small (2,950 vs 3,702 appends/s): missed"
    )
    # An entry from before titles and goals were recorded still makes a line.
    assert figure_line("P10", SAMPLE["P10"]) == "- **P10** — 1.59x full (1.92 vs 1.21 s), 31 queries"


def test_only_the_lines_between_the_markers_change_in_id_order():
    new = with_figures(README_TEXT, SAMPLE)
    before, _, rest = new.partition(BEGIN + "\n")
    block, _, after = rest.partition(END)
    assert before == "# Title\n\nIntro.\n\n"
    assert after == "\n\n## After\n"
    assert [line.split()[1] for line in block.splitlines()] == ["**P2**", "**P5**", "**P10**"]
    assert "old line" not in new
    assert with_figures(new, SAMPLE) == new  # a second run changes nothing


def test_a_readme_without_its_markers_or_over_its_limit_is_refused():
    with pytest.raises(ReadmeError, match="needs exactly one"):
        with_figures("# Title\n", SAMPLE)
    with pytest.raises(ReadmeError, match="needs exactly one"):
        with_figures(README_TEXT + BEGIN + "\n", SAMPLE)
    padded = README_TEXT + "x" * (README_LIMIT - len(README_TEXT.encode()))
    with pytest.raises(ReadmeError, match="over its limit"):
        with_figures(padded, SAMPLE)


def test_readme_update_rewrites_the_file_from_latest_json(tmp_path):
    readme, results = tmp_path / "README.md", tmp_path / "latest.json"
    readme.write_text(README_TEXT)
    results.write_text(json.dumps(SAMPLE))
    readme_update(readme, results)
    assert readme.read_text() == with_figures(README_TEXT, SAMPLE)


def test_a_bad_results_file_leaves_the_readme_alone(tmp_path):
    readme, results = tmp_path / "README.md", tmp_path / "latest.json"
    readme.write_text(README_TEXT)
    for text in ("not json", "[]", json.dumps({"P1": {"value": 1}})):
        results.write_text(text)
        with pytest.raises(ReadmeError):
            readme_update(readme, results)
        assert readme.read_text() == README_TEXT


def test_the_real_readme_keeps_its_limit_with_every_figure_written():
    """Every registered figure, with wide numbers, fits: a title too long for the README fails here."""
    figures = bench.discover()
    results = {
        fid: {
            "value": 12_345.6 if fid == "P5" else 0.9876,
            "baseline": 23_456.7 if fid == "P5" else 0.1234,
            "ratio": 10.1234,
            "unit": "appends/s" if fid == "P5" else "s",
            "queries": 123,
            "size": "small",
            "title": fig.title,
            "goal": fig.goal_text("appends/s" if fid == "P5" else "s") or "≥ 3,000/s and ≥ 0.85x",
            "met": False,
        }
        for fid, fig in figures.items()
    }
    new = with_figures(README.read_text(), results)
    assert len(new.encode()) <= README_LIMIT
    assert len(new.partition(BEGIN)[2].partition(END)[0].splitlines()) == 1 + len(figures)  # one line each
