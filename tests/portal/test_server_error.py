"""handler500 (portal.views.server_error): 503 with Retry-After when the database failed, 500 otherwise; both pages
render without the database and in the request's language."""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory
from django.utils import translation

from portal.views import server_error


def _answer(error: Exception, language: str = "en"):
    request = RequestFactory().get("/")
    with translation.override(language):
        try:
            raise error
        except Exception:  # the handler reads the exception being handled, as Django calls it
            return server_error(request)


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("closed")])
def test_a_database_error_answers_503_with_retry_after(error):
    response = _answer(error)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "could not reach its database" in response.content.decode()


def test_any_other_error_answers_500():
    response = _answer(RuntimeError("a bug"))
    assert response.status_code == 500
    assert not response.has_header("Retry-After")
    assert "Something went wrong" in response.content.decode()


def test_the_pages_are_in_hindi_too():
    assert "डेटाबेस तक नहीं पहुँच सका" in _answer(OperationalError("down"), "hi").content.decode()
    assert "कुछ गड़बड़ हो गई" in _answer(RuntimeError("a bug"), "hi").content.decode()
