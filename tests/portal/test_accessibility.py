"""Accessible worker pages: every control has a label, errors are tied to their fields, the keyboard can
reach and see everything, and text has enough contrast (WCAG 2.1 AA: 4.5:1)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import sign_in

CSS = Path(__file__).resolve().parents[2] / "portal" / "static" / "portal" / "prahari.css"


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[dict] = []
        self.described: list[tuple[dict, list[str]]] = []
        self.html_lang = None
        self.skip_target = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if tag == "a" and "skip" in (a.get("class") or ""):
            self.skip_target = a.get("href", "").lstrip("#")
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.controls.append(a)
        if a.get("aria-describedby"):
            self.described.append((a, a["aria-describedby"].split()))


def problems(html: str) -> list[str]:
    page = _Page()
    page.feed(html)
    found = []
    if not page.html_lang:
        found.append("no lang on <html>")
    if page.skip_target not in page.ids:
        found.append("no skip link to the content")
    for control in page.controls:
        if control.get("id") not in page.label_for and not control.get("aria-label"):
            found.append(f"unlabelled control {control.get('name')}")
    for element, ids in page.described:
        found.extend(f"{element.get('name')} described by missing #{i}" for i in ids if i not in page.ids)
    return found


def test_the_checker_finds_unlabelled_controls_and_dangling_descriptions():
    html = '<html><body><input name="q" aria-describedby="nope"><select name="s" id="s"></select></body></html>'
    assert problems(html) == [
        "no lang on <html>",
        "no skip link to the content",
        "unlabelled control q",
        "unlabelled control s",
        "q described by missing #nope",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/",
        "/accounts/me/",
        "/records/",
        "/accounts/security/",
        "/accounts/password/",
        "/records/?reference_id=12",
    ],
)
def test_worker_pages_label_every_control_and_tie_every_description(client, world, url):
    if url != "/accounts/login/":
        sign_in(client, world.worker)
    response = client.get(url, follow=True)
    assert response.status_code == 200
    assert problems(response.content.decode()) == []


@pytest.mark.django_db
def test_a_field_error_is_tied_to_its_field(client, world):
    """A refused form marks the field invalid and points it at the error message a screen reader reads out."""
    sign_in(client, world.worker)
    page = client.post("/accounts/password/", {"old_password": "", "new_password1": "", "new_password2": ""})
    html = page.content.decode()
    invalid = re.findall(r'<input[^>]*aria-invalid="true"[^>]*>', html)
    assert invalid, "no field marked invalid"
    for control in invalid:
        for target in re.search(r'aria-describedby="([^"]+)"', control).group(1).split():
            assert f'id="{target}"' in html
    assert problems(html) == []


# --- Contrast ------------------------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _palette() -> dict[str, str]:
    root = re.search(r":root\s*{([^}]*)}", CSS.read_text()).group(1)
    found = dict(re.findall(r"--([\w-]+):\s*#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", root))
    return {name: "#" + (value if len(value) == 6 else "".join(c * 2 for c in value)) for name, value in found.items()}


def test_contrast_is_computed_as_wcag_defines_it():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic just-failing grey


def test_text_colours_have_enough_contrast():
    css = CSS.read_text()
    colours = _palette()
    pairs = {
        "text on the page": (colours["ink"], colours["bg"]),
        "text on a card": (colours["ink"], colours["card"]),
        "muted text on a card": (colours["muted"], colours["card"]),
        "muted text on the page": (colours["muted"], colours["bg"]),
        "header and buttons": ("#ffffff", colours["accent"]),
        "link buttons on a card": (colours["accent"], colours["card"]),
        "red buttons": ("#ffffff", re.search(r"button\.danger { background: (#\w{6}); }", css)[1]),
        "warnings": (colours["warn"], colours["card"]),
    }
    # The message colours, as the stylesheet pairs them (background; color).
    for kind, background, foreground in re.findall(
        r"ul\.messages li\.(\w+) { background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6}); }", css
    ):
        pairs[f"{kind} message"] = (foreground, background)
    assert len(pairs) >= 10
    low = {name: round(contrast(*pair), 2) for name, pair in pairs.items() if contrast(*pair) < 4.5}
    assert low == {}


def test_the_keyboard_focus_is_always_visible():
    css = CSS.read_text()
    assert re.search(r":focus-visible\s*{[^}]*outline:\s*3px solid", css)
    assert not re.search(r"(?<!main):focus[^{]*{[^}]*outline:\s*(none|0)", css)
