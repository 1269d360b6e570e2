"""Every list the console links to fits (issue 15, item 6): at 1280×900 no column is cut off or pushed behind
a sideways scroll, and at 390×844 the page itself never scrolls sideways (a long table scrolls inside its own
box). Checked in real Chromium for a district supervisor and a state administrator, over the demo's data
(manage.py seed_demo, as `make run` builds it) plus a decided alert, a login hold, a review and long reasons,
in English and Hindi. Screenshots go to test-results/lists/ (for people to look at).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Alert, LoginHold, User
from accounts.services.alerts import alert_confirm, alert_raise
from accounts.services.onboarding import invitation_create
from accounts.services.system import system_user
from governance.jobs import job_run
from governance.models import AccessReview
from records.models import Beneficiary
from tests.browser.conftest import cookies_give
from tests.browser.test_console_journeys import console_signed_in_earlier

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "lists"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
LONG = (
    "Confirmed with the medical officer in charge of the primary health centre: the look-ups were not part of "
    "any vaccination session planned for that week"
)

# What a cell or a page does that a reader cannot see: a cell whose content is cut off (its overflow hidden or
# its text ellipsised, and wider than the cell), a results table wider than its box at the desktop size (columns
# behind a sideways scroll), and a page wider than the screen.
CLIPPED = """(desktop) => {
  const found = [];
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth > width) {
    found.push(`the page is ${document.documentElement.scrollWidth}px wide on a ${width}px screen`);
  }
  for (const cell of document.querySelectorAll('#result_list th, #result_list td')) {
    const style = getComputedStyle(cell);
    const hides = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
    if (hides && cell.scrollWidth > cell.clientWidth + 1) {
      found.push(`cell ${cell.className}: "${cell.textContent.trim().slice(0, 40)}" is cut off`);
    }
  }
  const results = document.querySelector('#changelist .results');
  if (desktop && results && results.scrollWidth > results.clientWidth + 1) {
    const hidden = [...document.querySelectorAll('#result_list thead th')]
      .filter((th) => th.getBoundingClientRect().right > results.getBoundingClientRect().right + 1)
      .map((th) => th.textContent.trim());
    found.push(`the table is ${results.scrollWidth}px in a ${results.clientWidth}px box; behind the scroll: ${hidden}`);
  }
  return found;
}"""


def demo_with_every_list_filled() -> None:
    """The demo as `make run` seeds it, then what it lacks: two alerts, one decided with a long reason, a login
    hold, an invitation with a long name, an access review and a changed record."""
    call_command("seed_demo", "--force", "--workers", "12", "--beneficiaries", "40", stdout=StringIO())
    supervisor = User.objects.get(username="dio.lucknow")
    workers = list(User.objects.filter(role="worker", facility__district=supervisor.district).order_by("pk")[:3])
    for worker, rule in zip(workers, ("volume_burst", "many_ips"), strict=False):
        alert = alert_raise(
            rule=rule, severity=Alert.Severity.HIGH, subject=worker, evidence={}, raised_by=system_user()
        )
    alert_confirm(alert=alert, acting_user=supervisor, reason=LONG, ip="10.0.0.1")
    LoginHold.objects.create(user=workers[0], lockouts=3)
    record = Beneficiary.objects.filter(facility=workers[0].facility, is_canary=False).first()
    record.mobile, record._history_user, record._change_reason = "+919800000001", supervisor, "new number"
    record.save()  # a record changed after registration (the console's list of them)
    invitation_create(
        acting_user=supervisor,
        first_name="Lakshmi",
        last_name="Venkataraghavan-Subramaniam",
        mobile="+919812345670",
        facility=workers[0].facility,
        base_url="http://testserver",
    )
    now = timezone.now()
    AccessReview.objects.create(
        user=workers[1],
        reviewer=supervisor,
        decision="attest",
        reason=LONG,
        period_start=now - timedelta(days=180),
        period_end=now,
    )
    job_run("explain")  # the seeded look-ups are judged: the review queue lists the unexplained ones


def console_lists(page, base: str) -> list[str]:
    """The lists the console's index links to (its apps' models), each once."""
    page.goto(f"{base}/admin/")
    hrefs = page.eval_on_selector_all("#content-main .module th a, #nav-sidebar th a", "els => els.map(a => a.href)")
    return sorted({href for href in hrefs if href.startswith(base) and href.rstrip("/").count("/") >= 5})


@pytest.mark.parametrize("username", ["dio.lucknow", "sa.up"])
def test_every_console_list_fits_a_desktop_and_a_phone(live_server, new_context, username):
    demo_with_every_list_filled()
    base = live_server.url
    user = User.objects.get(username=username)
    page = console_signed_in_earlier(new_context, base, user)
    lists = console_lists(page, base)
    assert len(lists) >= 8, lists  # accounts, alerts, reviews, holds, account and access events, invitations, devices
    problems: dict[str, list[str]] = {}
    RESULTS.mkdir(parents=True, exist_ok=True)
    for language in ("en", "hi"):
        cookies_give(page.context, base, {settings.LANGUAGE_COOKIE_NAME: language})
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            for url in lists:
                page.goto(url)
                found = page.evaluate(CLIPPED, size == "desktop")
                assert page.locator("#result_list tbody tr").count() > 0, f"{url} is empty: fill it above"
                name = "-".join(urlparse(url).path.strip("/").split("/")[1:])
                page.screenshot(path=str(RESULTS / f"{username}-{name}-{size}-{language}.png"))  # the first screen
                if found:
                    problems[f"{username} {language} {size} {urlparse(url).path}"] = found
    assert problems == {}, "\n".join(f"{where}: {what}" for where, what in problems.items())
