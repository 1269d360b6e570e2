"""Every string a person reads is marked for translation, and the Hindi catalogue holds every marked string.

The other catalogue tests (test_i18n.py) check that each entry in `locale/hi` is translated; these
check the other half: that nothing a person reads escapes the catalogue. Templates are read as HTML
with the translation blocks taken out, so any remaining word is unmarked text. Python is read as a
syntax tree for the places a user reads a string (messages, form errors, field labels and help,
admin labels, choices, the portal's own domain errors). Management commands and programmer errors
(ValueError, KeyError …) speak English to operators and developers, on purpose.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "records", "portal", "governance")
WORD = re.compile(r"[A-Za-z]{2,}")

# Django template syntax that carries no readable text of its own, or is the translation itself.
_TEMPLATE_CODE = [
    re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S),
    re.compile(r"{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}", re.S),
    re.compile(r"{#.*?#}", re.S),
    re.compile(r"{%.*?%}", re.S),
    re.compile(r"{{.*?}}", re.S),
]
# Attributes a person reads (or hears, with a screen reader); `value` only on an input drawn as a button.
_READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "value"}
# Words that are the same in both languages: the brand in Latin letters and technical names.
_SAME_IN_BOTH = {"Prahari", "OTP", "QR", "SMS", "TOTP", "CSV", "IP"}


class _ReadableText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        attributes = dict(attrs)
        for name, value in attrs:
            shown = name != "value" or (tag == "input" and attributes.get("type") in ("submit", "button", "reset"))
            if name in _READ_ATTRIBUTES and value and shown:
                self._keep(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self._keep(data)

    def _keep(self, text: str) -> None:
        words = [w for w in WORD.findall(text) if w not in _SAME_IN_BOTH]
        if words:
            self.found.append(" ".join(text.split()))


def unmarked_template_text(source: str) -> list[str]:
    for pattern in _TEMPLATE_CODE:
        source = pattern.sub(" ", source)
    parser = _ReadableText()
    parser.feed(source)
    return parser.found


def _templates():
    return sorted((ROOT / "templates").rglob("*.html"))


def test_the_template_scanner_sees_unmarked_text():
    """The scanner itself: plain words and readable attributes are found; translated ones are not."""
    assert unmarked_template_text("<p>Hello {{ name }}</p>") == ["Hello"]
    assert unmarked_template_text('<img alt="A chart">') == ["A chart"]
    assert unmarked_template_text('<input type="submit" value="Send"><button value="attest">') == ["Send"]
    assert unmarked_template_text('<p>{% translate "Hello" %}</p><input type="hidden" value="abc">') == []
    assert unmarked_template_text("{% blocktranslate %}Hi {{ n }}{% endblocktranslate %}<style>p{}</style>") == []


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_every_template_text_is_marked_for_translation(template):
    assert unmarked_template_text(template.read_text(encoding="utf-8")) == []


# --- Python ------------------------------------------------------------------------------------------

_LABEL_KEYWORDS = {
    "label",
    "help_text",
    "verbose_name",
    "verbose_name_plural",
    "short_description",
    "description",
    "empty_value_display",
    "empty_label",
}


def _domain_errors() -> set[str]:
    """Names of the portal's exceptions whose message a person reads (DomainError and its subclasses)."""
    names = {"DomainError", "ValidationError"}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") in names for b in node.bases):
                names.add(node.name)
    return names


def _python_files():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts and "management" not in path.parts:
                yield path


def _is_plain_text(node) -> bool:
    """A literal a person would read: a string constant with words, or an f-string (never translatable)."""
    if isinstance(node, ast.JoinedStr):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(WORD.search(node.value))


def _choices_labels(node: ast.ClassDef):
    """`NAME = "value", "Label"` in a TextChoices/IntegerChoices body: the label is what people read."""
    if not any(getattr(b, "id", getattr(b, "attr", "")).endswith("Choices") for b in node.bases):
        return
    for statement in node.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Tuple):
            elements = statement.value.elts
            if len(elements) == 2 and _is_plain_text(elements[1]):
                yield statement.lineno, ast.unparse(elements[1])


def unmarked_python_strings(source: str, errors: set[str]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            found.extend(_choices_labels(node))
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        owner = getattr(function.value, "id", "") if isinstance(function, ast.Attribute) else ""
        read = []
        if owner == "messages" and name in {"success", "error", "warning", "info", "debug"}:
            read = node.args[1:2]
        elif owner == "messages" and name == "add_message":
            read = node.args[2:3]
        elif name in {"add_error", "message_user"}:
            read = node.args[1:2]
        elif name in errors:
            read = node.args[:1]
        read += [k.value for k in node.keywords if k.arg in _LABEL_KEYWORDS]
        found.extend((node.lineno, ast.unparse(a)) for a in read if _is_plain_text(a))
    return sorted(found)


def test_the_python_scanner_sees_unmarked_strings():
    source = (
        "from django.contrib import messages\n"
        "messages.success(request, 'Done')\n"
        "messages.success(request, _('Done'))\n"
        "form.add_error('reason', 'Say why')\n"
        "raise NotPermitted(f'no {x}')\n"
        "field = forms.CharField(label='Reason', help_text=_('Why'))\n"
        "class Kind(models.TextChoices):\n"
        "    A = 'a', 'Alpha'\n"
        "    B = 'b', _('Beta')\n"
    )
    found = [text for _, text in unmarked_python_strings(source, {"NotPermitted"})]
    assert found == ["'Done'", "'Say why'", "f'no {x}'", "'Reason'", "'Alpha'"]


def test_every_user_facing_python_string_is_marked_for_translation():
    errors = _domain_errors()
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in _python_files()
        for line, text in unmarked_python_strings(path.read_text(encoding="utf-8"), errors)
    ]
    assert found == []


# --- The catalogue holds every marked string -----------------------------------------------------------


def test_the_hindi_catalogue_holds_every_marked_string_and_nothing_stale(tmp_path):
    """`make messages` run on a copy of the sources finds exactly the catalogue's entries: none missing, none stale."""
    assert shutil.which("xgettext"), "gettext is missing: `make test` installs it (Debian's gettext)"
    copy = tmp_path / "src"
    ignore = shutil.ignore_patterns(".venv", "var", ".git", "test-results", "__pycache__", "bench")
    shutil.copytree(ROOT, copy, ignore=ignore, symlinks=True)
    env = {**os.environ, "DJANGO_DEBUG": "1", "PRAHARI_VAR_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "manage.py", "makemessages", "-l", "hi", "--no-obsolete"]
    command += ["--ignore", "tests/*", "--ignore", "bench/*"]
    subprocess.run(command, cwd=copy, env=env, check=True, capture_output=True)

    def entries(path: Path) -> set[tuple[str | None, str]]:
        return {(e.msgctxt, e.msgid) for e in polib.pofile(str(path)) if not e.obsolete}

    fresh = entries(copy / "locale" / "hi" / "LC_MESSAGES" / "django.po")
    committed = entries(ROOT / "locale" / "hi" / "LC_MESSAGES" / "django.po")
    assert {"missing": sorted(fresh - committed, key=str), "stale": sorted(committed - fresh, key=str)} == {
        "missing": [],
        "stale": [],
    }
