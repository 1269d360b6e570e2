"""The login page renders in real Chromium, the console hands over to it, and the CSP holds."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_console_sends_everyone_through_the_login_flow(live_server, page, screenshot):
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"{live_server.url}/admin/")
    assert page.url == f"{live_server.url}/accounts/login/?next=%2Fadmin%2F"
    assert page.locator("input[name=username]").is_visible()
    assert page.locator("input[name=password]").is_visible()
    screenshot("login")
    assert violations == []


def test_healthz_answers_in_the_browser(live_server, page):
    response = page.goto(f"{live_server.url}/healthz")
    assert response.status == 200
    assert response.json()["db"] == "ok"


def test_login_page_switches_to_hindi(live_server, page, screenshot):
    page.goto(f"{live_server.url}/accounts/login/")
    page.select_option("#language", "hi")
    page.locator("header form button[type=submit]").click()
    assert page.locator("html").get_attribute("lang") == "hi"
    screenshot("login-hi")
