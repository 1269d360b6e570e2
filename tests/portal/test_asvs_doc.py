"""docs/ASVS.md answers every item of docs/asvs5_items.csv once, and every test it names exists.

An item's section starts with `### <id>`; its `**Applies:**` line starts with yes or no, and its `**Tests:**`
line names pytest node ids (`tests/…py::test_name` or `tests/…py::TestClass::test_name`). Each node is found by
parsing its file with `ast`: a name in a comment or a string does not count.
"""

from __future__ import annotations

import ast
import csv
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ITEMS = ROOT / "docs" / "asvs5_items.csv"
DOC = ROOT / "docs" / "ASVS.md"

HEADING = re.compile(r"^### (V\d+(?:\.\d+)+)\s*$")
FIELD = re.compile(r"^\*\*(Asks|Applies|How|Tests|Gap):\*\*\s*(.*)$")
NODE = re.compile(r"tests/[\w/]+\.py(?:::\w+)+")
LABELS = ("Asks", "Applies", "How", "Tests", "Gap")


def items_listed(path: Path = ITEMS) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["req_id"].strip() for row in csv.DictReader(handle)]


def sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """[(item id, {label: text})] in the order of the document; a label's text runs to the next label."""
    found: list[tuple[str, dict[str, str]]] = []
    label = None
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            found.append((heading.group(1), {}))
            label = None
            continue
        if line.startswith("#"):
            label = None
            continue
        if not found:
            continue
        field = FIELD.match(line)
        if field:
            label = field.group(1)
            found[-1][1][label] = field.group(2).strip()
        elif label is not None and line.strip():
            found[-1][1][label] += " " + line.strip()
    return found


def node_exists(node: str, root: Path = ROOT) -> bool:
    """Whether `tests/x.py::name` (or `::Class::name`) is a test function or method defined in that file."""
    path, *names = node.split("::")
    file = root / path
    if not file.is_file() or not names:
        return False
    scope: list[ast.stmt] = ast.parse(file.read_text(encoding="utf-8")).body
    for depth, name in enumerate(names):
        last = depth == len(names) - 1
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef) if last else (ast.ClassDef,)
        match = next((n for n in scope if isinstance(n, kinds) and n.name == name), None)
        if match is None:
            return False
        scope = match.body
    return names[-1].startswith("test")


def problems(ids: list[str], text: str, root: Path = ROOT) -> list[str]:
    """Everything wrong with the document `text` against the item list `ids`."""
    found = sections(text)
    counts = Counter(item for item, _ in found)
    wrong = [f"{item}: missing" for item in ids if item not in counts]
    wrong += [f"{item}: {n} sections" for item, n in counts.items() if n > 1]
    wrong += [f"{item}: not in docs/asvs5_items.csv" for item in counts if item not in ids]
    for item, fields in found:
        wrong += [f"{item}: no **{label}:** line" for label in LABELS if not fields.get(label)]
        applies = fields.get("Applies", "").lower()
        if not applies.startswith(("yes", "no")):
            wrong.append(f"{item}: Applies says neither yes nor no")
        nodes = NODE.findall(fields.get("Tests", ""))
        if applies.startswith("yes") and not nodes:
            wrong.append(f"{item}: applies but names no test")
        if applies.startswith("no") and len(applies.split()) < 3:
            wrong.append(f"{item}: does not apply but says not why")
        wrong += [f"{item}: {node} does not exist" for node in nodes if not node_exists(node, root)]
    return wrong


def test_the_item_list_is_the_84_items():
    ids = items_listed()
    assert len(ids) == 84
    assert len(set(ids)) == 84


def test_asvs_doc_answers_every_item_once_with_tests_that_exist():
    assert problems(items_listed(), DOC.read_text(encoding="utf-8")) == []


# --- the checker itself finds what it must ------------------------------------------------------------------

GOOD = """\
### V1.1.1
**Asks:** something.
**Applies:** yes.
**How:** a module.
**Tests:** `tests/portal/test_asvs_doc.py::test_the_item_list_is_the_84_items`,
  `tests/portal/test_asvs_doc.py::TestNodes::test_a_method`
**Gap:** none.
"""


class TestNodes:
    def test_a_method(self):
        assert node_exists("tests/portal/test_asvs_doc.py::TestNodes::test_a_method")


def test_a_good_section_passes():
    assert problems(["V1.1.1"], GOOD) == []


@pytest.mark.parametrize(
    ("ids", "text", "expected"),
    [
        (["V1.1.1", "V1.1.2"], GOOD, "V1.1.2: missing"),
        (["V1.1.1"], GOOD + GOOD, "V1.1.1: 2 sections"),
        (["V1.1.1"], GOOD.split("**Tests:**")[0] + "**Tests:** none yet\n**Gap:** x\n", "V1.1.1: applies but names no"),
        (
            ["V1.1.1"],
            GOOD.replace("test_the_item_list_is_the_84_items", "test_not_there"),
            "V1.1.1: tests/portal/test_asvs_doc.py::test_not_there does not exist",
        ),
        (
            ["V1.1.1"],
            GOOD.replace("TestNodes::test_a_method", "TestNodes::test_missing"),
            "V1.1.1: tests/portal/test_asvs_doc.py::TestNodes::test_missing does not exist",
        ),
        (
            ["V1.1.1"],
            GOOD.replace("tests/portal/test_asvs_doc.py::test_the", "tests/portal/nowhere.py::test_the"),
            "V1.1.1: tests/portal/nowhere.py::test_the_item_list_is_the_84_items does not exist",
        ),
        (["V1.1.1"], GOOD.replace("**Applies:** yes.", "**Applies:** maybe."), "V1.1.1: Applies says neither"),
        (["V1.1.1"], GOOD.replace("**Applies:** yes.", "**Applies:** no."), "V1.1.1: does not apply but says not"),
        (["V1.1.1"], GOOD.replace("**Gap:** none.\n", ""), "V1.1.1: no **Gap:** line"),
    ],
)
def test_the_checker_finds_each_fault(ids, text, expected):
    assert any(problem.startswith(expected) for problem in problems(ids, text)), problems(ids, text)


def test_a_name_only_in_a_string_is_not_a_test(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text('NAME = "test_ghost"\n# def test_ghost(): pass\n')
    assert not node_exists("tests/test_x.py::test_ghost", tmp_path)
