"""Browser tests: real Debian Chromium driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the live server's ORM calls are safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("PRAHARI_CHROMIUM", "/usr/bin/chromium")
# Screenshots for people to look at (gitignored, like everything under test-results/). pytest-playwright empties
# test-results/ as a run starts: the screenshots there are always those of the last run.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium.")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under test-results/screenshots/ (for people to look at)."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def cookies_give(context, base_url: str, cookies: dict[str, str]) -> None:
    """Put `cookies` ({name: value}) into the browser `context` as the live server would have set them.

    Through the DevTools protocol with the server's URL and no Domain: a `__Host-` cookie (the names when DEBUG
    is off, portal/settings/base.py) must be host-only, Secure and for Path=/, which Playwright's add_cookies
    cannot express (it always sends a Domain). Chromium takes Secure cookies from http://localhost."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    for name, value in cookies.items():
        result = cdp.send(
            "Network.setCookie",
            {
                "name": name,
                "value": value,
                "url": f"{base_url}/",
                "path": "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
            },
        )
        assert result["success"], name
    cdp.detach()
    page.close()
