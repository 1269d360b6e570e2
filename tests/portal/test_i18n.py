"""Hindi first: pages and domain messages come in Hindi when the user chose it."""

from __future__ import annotations

import pytest
from django.utils import translation

from accounts.exceptions import IllegalTransition
from accounts.services.lifecycle import user_reinstate


@pytest.mark.django_db
def test_login_page_in_hindi(client):
    client.cookies["django_language"] = "hi"
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
