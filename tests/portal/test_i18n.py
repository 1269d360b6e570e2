"""Hindi first: pages and domain messages come in Hindi when the user chose it."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from django.conf import settings as django_settings
from django.utils import translation

from accounts.exceptions import IllegalTransition
from accounts.services.lifecycle import user_reinstate


@pytest.mark.django_db
def test_login_page_in_hindi(client):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    page = client.get("/accounts/login/").content.decode()
    assert '<html lang="hi">' in page
    assert "प्रहरी" in page
    assert "पासवर्ड" in page  # glossary: password


@pytest.mark.django_db
def test_login_page_in_english_when_asked(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Log in" in page and "Password" in page


@pytest.mark.django_db
def test_domain_errors_speak_hindi(world):
    with translation.override("hi"), pytest.raises(IllegalTransition) as refused:
        user_reinstate(user=world.worker, acting_user=world.supervisor, reason="गलती से")
    assert "खाता" in str(refused.value)  # glossary: account


ROOT = Path(__file__).resolve().parents[2]
# The project's own catalogue, and the Hindi for what the console inherits from Django and the installed apps.
CATALOGUES = [
    ROOT / "locale" / "hi" / "LC_MESSAGES" / "django.po",
    ROOT / "locale-inherited" / "hi" / "LC_MESSAGES" / "django.po",
    ROOT / "locale-inherited" / "hi" / "LC_MESSAGES" / "djangojs.po",
]


def _catalogue_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("source", CATALOGUES, ids=_catalogue_id)
def test_every_hindi_entry_is_translated_and_none_is_fuzzy(source):
    po = polib.pofile(str(source))
    missing = [e.msgid for e in po if not e.obsolete and not e.translated()]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]
    assert (missing, fuzzy) == ([], [])


def _translations(catalogue) -> dict:
    """(context, msgid) → what it says: the text, or every plural form in order."""
    said = {}
    for e in catalogue:
        forms = tuple(text for _, text in sorted(e.msgstr_plural.items())) if e.msgid_plural else (e.msgstr,)
        if any(forms):
            said[(e.msgctxt, e.msgid)] = forms
    return said


@pytest.mark.parametrize("source", CATALOGUES, ids=_catalogue_id)
def test_the_compiled_catalogue_matches_the_source(source):
    """The committed .mo (what runs) says what the .po says: `make messages` was run after the last edit."""
    po = _translations(polib.pofile(str(source)))
    mo = _translations(polib.mofile(str(source.with_suffix(".mo"))))
    assert mo == po


@pytest.mark.django_db
def test_record_search_in_hindi(client, world):
    from tests.conftest import sign_in

    sign_in(client, world.worker)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "hi"
    page = client.get("/records/").content.decode()
    assert "रिकॉर्ड खोजें" in page and "उद्देश्य" in page  # glossary: purpose


@pytest.mark.django_db
def test_the_language_switch_remembers_the_choice_on_the_account(client, world):
    from tests.conftest import sign_in

    sign_in(client, world.worker)
    User = type(world.worker)
    User.objects.filter(pk=world.worker.pk).update(preferred_language="en")
    response = client.post("/i18n/setlang/", {"language": "hi", "next": "/"})
    assert response.status_code == 302 and response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "hi"
    assert (
        response.cookies[django_settings.LANGUAGE_COOKIE_NAME]["max-age"] == 365 * 24 * 60 * 60
    )  # kept after the browser closes
    world.worker.refresh_from_db()
    assert world.worker.preferred_language == "hi"
    history = world.worker.history.latest("history_date")
    assert (history.history_user, history.history_change_reason) == (world.worker, "language chosen")
    assert "रिकॉर्ड खोजें" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})  # not a language of the portal: ignored
    world.worker.refresh_from_db()
    assert world.worker.preferred_language == "hi"
