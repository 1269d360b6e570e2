"""The console speaks Hindi in the strings it inherits: Django's own and the installed apps'.

Django's Hindi catalogues lack many of the admin's, auth's and core's strings, and django-otp,
django-axes, django-simple-history and django-celery-beat ship no Hindi at all; the console shows
their pages (OTP devices, lockouts, history, schedules). `locale-inherited/hi` holds that Hindi.

The strings are extracted at test time from the installed packages (`makemessages` on a copy of each
one's source, as Django does for its own catalogues), so an upgrade that adds a string fails here
until it is translated. Extracted: Django's core and every installed app that is not the project's
own; an app that is not installed (admindocs, humanize, django-otp's HOTP plugin) is never shown and
never extracted. Left out of each package, as the project leaves them out of its own catalogue:
tests, migrations (old copies of model strings), and management commands (they speak English to
operators). The JavaScript catalogue is checked for the packages the console's `jsi18n` serves.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import django
import polib
import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.utils import translation
from django.utils.translation import trans_real
from django.utils.translation.trans_real import DjangoTranslation
from django.views.i18n import JavaScriptCatalog

from tests.conftest import sign_in

ROOT = Path(__file__).resolve().parents[2]
# AdminSite.i18n_javascript serves the JavaScript catalogue of these packages only (calendar, actions, filters).
JS_PACKAGES = ("django.contrib.admin",)
_LEFT_OUT = {"tests", "migrations", "management", "locale", "__pycache__"}

# Strings the console may show in the same words in Hindi, or can never ask for; each group says why.
ALLOWED = {
    # Punctuation and placeholders only: the same in Hindi.
    (None, ":"),  # the label suffix
    (None, ":?.!"),  # the characters after which a form adds no label suffix
    (None, "…"),  # the paginator's gap
    (None, ", "),  # the separator of lists in messages
    (None, "%(class_name)s %(instance)s"),
    ("String to return when truncating text", "%(truncated_text)s…"),
    # Technical names, written so in Hindi too.
    (None, "IPv4"),
    (None, "IPv6"),
    # django-otp's Django 1.11 admin login template asks `{% trans %}` for these two sentences, which the
    # admin's catalogue (and ours) holds as one plural entry, so no catalogue can answer a plain gettext.
    # The console never renders that template: PrahariAdminSite.login redirects to the portal's login.
    (None, "Please correct the error below."),
    (None, "Please correct the errors below."),
}


@dataclass(frozen=True)
class Inherited:
    package: str
    domain: str
    msgctxt: str | None
    msgid: str
    msgid_plural: str | None

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def _sources() -> list[tuple[str, Path, tuple[str, ...]]]:
    """Django's core and each installed app outside the project: (name, directory, domains)."""
    found = [("django", Path(django.__file__).parent, ("django",))]
    for app in apps.get_app_configs():
        path = Path(app.path).resolve()
        if "site-packages" in path.parts or not path.is_relative_to(ROOT):  # the venv may lie inside ROOT
            found.append((app.name, path, ("django", "djangojs") if app.name in JS_PACKAGES else ("django",)))
    return found


def _left_out(directory: str, names: list[str]) -> set[str]:
    """What a package copy leaves out: see the module docstring; a nested app is extracted on its own, if installed."""
    return (_LEFT_OUT & set(names)) | {n for n in names if (Path(directory) / n / "apps.py").is_file()}


def extract(tmp: Path) -> list[Inherited]:
    """Every msgid of the inherited packages, by `makemessages` on a copy of each package, all run at once."""
    assert shutil.which("xgettext"), "gettext is missing: `make test` installs it (Debian's gettext)"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # the packages, not the project
    runs = []
    for name, path, domains in _sources():
        for domain in domains:
            copy = tmp / name / domain
            shutil.copytree(path, copy, ignore=_left_out)
            (copy / "locale").mkdir()
            command = [sys.executable, "-m", "django", "makemessages", "-l", "hi", "-d", domain]
            runs.append((name, domain, copy, subprocess.Popen(command, cwd=copy, env=env, stderr=subprocess.PIPE)))
    found = []
    for name, domain, copy, run in runs:
        _, error = run.communicate()
        assert run.returncode == 0, f"makemessages on {name} ({domain}): {error.decode()}"
        catalogue = copy / "locale" / "hi" / "LC_MESSAGES" / f"{domain}.po"
        if catalogue.exists():  # a package without strings for this domain writes none
            for e in polib.pofile(str(catalogue)):
                found.append(Inherited(name, domain, e.msgctxt, e.msgid, e.msgid_plural or None))
    return found


@pytest.fixture(scope="module")
def inherited(tmp_path_factory) -> list[Inherited]:
    return extract(tmp_path_factory.mktemp("inherited"))


def _catalogue(domain: str):
    """The Hindi the console uses for `domain`: the jsi18n view's catalogue for JavaScript, else Django's."""
    if domain == "djangojs":
        return DjangoTranslation("hi", domain="djangojs", localedirs=JavaScriptCatalog().get_paths(JS_PACKAGES))
    return trans_real.translation("hi")


def in_english(entry: Inherited, catalogue) -> bool:
    """Whether the console would show `entry` untranslated (any plural form counts)."""
    if entry.msgid_plural is None:
        if entry.msgctxt is None:
            return catalogue.gettext(entry.msgid) == entry.msgid
        return catalogue.pgettext(entry.msgctxt, entry.msgid) == entry.msgid
    forms = [(1, entry.msgid), (2, entry.msgid_plural)]
    if entry.msgctxt is None:
        return any(catalogue.ngettext(entry.msgid, entry.msgid_plural, n) == text for n, text in forms)
    return any(catalogue.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n) == text for n, text in forms)


def untranslated(entries: list[Inherited]) -> list[str]:
    catalogues = {domain: _catalogue(domain) for domain in {e.domain for e in entries}}
    return sorted(
        {
            f"{e.package} ({e.domain}): {e.msgid!r}" + (f" [{e.msgctxt}]" if e.msgctxt else "")
            for e in entries
            if e.key not in ALLOWED and in_english(e, catalogues[e.domain])
        }
    )


def test_the_extraction_finds_each_packages_strings(inherited):
    """The extraction itself: the strings of the issue, and of every third-party app the console shows."""
    keys = {(e.package, e.domain, e.msgid) for e in inherited}
    for expected in [
        ("django.contrib.admin", "django", "Select %s to view"),
        ("django.contrib.admin", "django", "Show counts"),
        ("django.contrib.admin", "django", "Start typing to filter…"),
        ("django.contrib.admin", "djangojs", "December"),
        ("django.contrib.auth", "django", "Authentication and Authorization"),
        ("django", "django", "This field is required."),
        ("django_otp", "django", "Please enter your OTP token."),
        ("django_otp.plugins.otp_email", "django", "sent by email"),
        ("axes", "django", "access attempts"),
        ("simple_history", "django", "Change reason"),
        ("django_celery_beat", "django", "periodic tasks"),
    ]:
        assert expected in keys
    packages = {e.package for e in inherited}
    assert "django.contrib.admindocs" not in packages and "django_otp.plugins.otp_hotp" not in packages
    assert len(inherited) > 800  # with Django 5.2 and these apps: 927


def test_the_console_shows_no_inherited_string_in_english(inherited):
    assert untranslated(inherited) == []


def test_the_check_sees_a_string_without_hindi(inherited):
    """The check can fail: a string no catalogue holds, or one only in English, is reported."""
    made_up = Inherited("django.contrib.admin", "django", None, "Select the colour of the sky", None)
    plural = Inherited("django.contrib.admin", "djangojs", None, "%s cloud", "%s clouds")
    assert untranslated([made_up, plural]) == [
        "django.contrib.admin (django): 'Select the colour of the sky'",
        "django.contrib.admin (djangojs): '%s cloud'",
    ]


def test_every_allowed_string_is_still_extracted(inherited):
    """The allow-list shrinks with the packages: an entry no package has any more is removed from it."""
    assert ALLOWED - {e.key for e in inherited} == set()


def test_month_names_read_as_hindi_spells_them():
    """Django's own Hindi misspells three months ("दिसमबर"); the inherited catalogue spells them as people do."""
    from datetime import date

    from django.utils import dateformat

    with translation.override("hi"):
        december = date(2026, 12, 3)
        assert [dateformat.format(december, f) for f in ("F", "E", "M", "N")] == ["दिसंबर", "दिसंबर", "दिस॰", "दिस॰"]
        assert dateformat.format(date(2026, 9, 1), "F") == "सितंबर"


# --- Console pages rendered in Hindi -------------------------------------------------------------------

# The English the issue saw in the Hindi console, and the admin's own words around it.
ENGLISH = re.compile(
    r"\b(Select|View|Show counts|Hide counts|Start typing to filter|Close|Filter|Clear all filters|Action|Go"
    r"|Add|Change|Search|Home|History|Save|Delete|Recent actions|Toggle theme|Skip to main content)\b"
)


class _Visible(HTMLParser):
    """The text a person reads or hears on a page: text outside scripts and styles, titles and labels."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        self.text += [v for k, v in attrs if k in ("title", "aria-label", "placeholder", "alt") and v]
        if tag == "input" and dict(attrs).get("type") in ("submit", "button"):
            self.text.append(dict(attrs).get("value") or "")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(data.strip())


def english_on(page: str) -> list[str]:
    parser = _Visible()
    parser.feed(page)
    return [text for text in parser.text if ENGLISH.search(text)]


def test_the_page_check_sees_english():
    page = '<a title="Close">बंद करें</a><script>var Close;</script><select name="x"><option>Select खाता to view'
    assert english_on(page) == ["Close", "Select खाता to view"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/", "/admin/accounts/user/", "account", "/admin/accounts/user/?q=asha"])
def test_console_pages_in_hindi_show_no_inherited_english(client, world, path):
    sign_in(client, world.supervisor)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    path = f"/admin/accounts/user/{world.worker.pk}/change/" if path == "account" else path
    response = client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="hi"' in page
    assert english_on(page) == []
