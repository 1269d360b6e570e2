"""One way to write a date in each language, on every page of the console and the worker's pages.

English: 3 Dec 2026, 20:23; Hindi: 3 दिसंबर 2026, 20:23 (portal/formats). The pages are read as a
person reads them (text and the attributes people read, not URLs or hidden values) and searched for
the other ways Django and Python write dates: month first, numbers with slashes or dashes, a 12-hour
clock in either language.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.utils import timezone

from accounts.models import AccountEvent, Alert
from tests.accounts.test_console_scoping import objects_of_district_a
from tests.conftest import sign_in
from tests.records.conftest import records  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

MONTHS = {
    "en": "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec",
    "hi": "जनवरी|फरवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितंबर|अक्टूबर|नवंबर|दिसंबर",
}
ENGLISH_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
OTHER_FORMATS = {
    "numbers with slashes": r"\b\d{1,2}/\d{1,2}/\d{2,4}\b",
    "numbers with dashes": r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}-\d{1,2}-\d{4}\b",
    "month first": rf"\b{ENGLISH_MONTH} \d{{1,2}}(?:,|\b)",
    "a 12-hour clock": r"\d(?::\d\d)?\s*(?:a\.m\.|p\.m\.|AM|PM|am|pm)(?!\w)|\b(?:noon|midnight)\b",
    "a Hindi 12-hour clock": r"बजे|पूर्वाह्न|अपराह्न",
    "a month's short form in Hindi": r"\d (?:जन|फ़र|मा|अप्र|जुल|अग|सित|अक्ट|नव|दिस्)(?=[\s,.]|$)",
}


def ours(language: str) -> re.Pattern:
    return re.compile(rf"\b\d{{1,2}} (?:{MONTHS[language]}) \d{{4}}(?:, \d{{2}}:\d{{2}}(?::\d{{2}})?)?")


class _Read(HTMLParser):
    """The text a person reads: data outside scripts and styles, and titles (the chart's tooltips)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        self.parts += [value for name, value in attrs if name in ("title", "aria-label", "placeholder") and value]

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def read(html: str) -> str:
    reader = _Read()
    reader.feed(html)
    return " ".join(" ".join(reader.parts).split())


def other_formats(text: str) -> dict[str, list[str]]:
    found = {name: re.findall(pattern, text) for name, pattern in OTHER_FORMATS.items()}
    return {name: hits for name, hits in found.items() if hits}


def test_the_reader_finds_each_other_format_and_passes_ours():
    assert other_formats("Dec. 3, 2026, 8:18 p.m. 12/03/2026 2026-12-03 3-12-2026 8:23 बजे 3 दिस् 2026") == {
        "numbers with slashes": ["12/03/2026"],
        "numbers with dashes": ["2026-12-03", "3-12-2026"],
        "month first": ["Dec. 3,"],
        "a 12-hour clock": ["8:18 p.m."],
        "a Hindi 12-hour clock": ["बजे"],
        "a month's short form in Hindi": ["3 दिस्"],
    }
    assert other_formats("3 Dec 2026, 20:23 · 3 दिसंबर 2026, 20:23:05 · reference 10000000000001") == {}
    assert ours("en").findall("on 3 Dec 2026, 20:23 and 14 Jan 2027") == ["3 Dec 2026, 20:23", "14 Jan 2027"]


def _console_pages(world) -> list[str]:
    objects = objects_of_district_a(world)
    AccountEvent.objects.create(type=100, actor=world.supervisor, subject=world.worker, reason="approved")
    Alert.objects.create(
        rule="burst",
        severity=Alert.Severity.HIGH,
        subject=world.worker,
        evidence={"views": 41, "start": timezone.now().isoformat(), "end": timezone.now().isoformat()},
    )
    pages = ["/admin/", f"/admin/accounts/user/{world.worker.pk}/history/"]
    for model in admin.site._registry:
        listed = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        pages.append(listed)
        obj = objects.get(model._meta.model_name)
        if obj is not None:
            pages.append(f"{listed}{obj.pk}/change/")
    return pages


@pytest.mark.parametrize("language", ["en", "hi"])
def test_every_console_page_writes_dates_one_way(client, world, language):
    world.worker.last_login = datetime(2026, 12, 3, 14, 48, tzinfo=UTC)  # 20:18 in India
    world.worker.save(update_fields=["last_login"])
    pages = _console_pages(world)
    sign_in(client, world.state_admin)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    wrong, seen = {}, 0
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)
        text = read(response.content.decode())
        seen += len(ours(language).findall(text))
        if found := other_formats(text):
            wrong[url] = found
    assert wrong == {}
    assert seen >= len(pages)  # dates were there to be read, written our way


@pytest.mark.parametrize("language", ["en", "hi"])
def test_the_workers_pages_write_dates_one_way(client, world, records, language):  # noqa: F811 (the fixture)
    sign_in(client, world.worker)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    type(world.worker).objects.filter(pk=world.worker.pk).update(preferred_language=language)
    client.post("/records/", {"purpose": "due_dose", "reference_id": records.own.reference_id})
    pages = ["/", "/records/", f"/records/{records.own.reference_id}/?purpose=due_dose", "/accounts/security/"]
    wrong, seen = {}, 0
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        text = read(response.content.decode())
        seen += len(ours(language).findall(text))
        if found := other_formats(text):
            wrong[url] = found
    assert wrong == {}
    assert seen >= 3  # the record's doses, the session's start and the access log at least
