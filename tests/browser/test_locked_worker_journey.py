"""A worker locks herself out on her phone, and her supervisor sees it (issue 15 §2), in real Chromium, in
English and in Hindi: the phone at 390×844 gets the generic failure page with the static lock rule (never a
word of her own lock), her own number gets the text with the time and whom to call, and the supervisor at
1280×900 finds her under "Locked now" with the time her lock ends.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import override
from playwright.sync_api import expect

from accounts.models import Notification
from accounts.notifications_text import render
from accounts.services.lockouts import lock_state
from tests.browser.test_console_journeys import console_signed_in_earlier, named_supervisor
from tests.browser.test_login_device_approval import watch_csp
from tests.browser.test_worker_phone_journeys import SIZES, context_for, shoot, switch_language

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WRONG = "not my password, sorry"
WORDS = {
    "en": {"failed": "Sign-in failed", "rule": "After 10 failed tries an account is locked for 15 minutes"},
    "hi": {"failed": "लॉग इन नहीं हो सका", "rule": "10 बार गलत कोशिश के बाद खाता 15 मिनट के लिए लॉक हो जाता है"},
}
LOCKED_NOW = {"en": "Locked now", "hi": "अभी लॉक"}
UNTIL = {"en": "Active · locked until {time}", "hi": "सक्रिय · {time} तक लॉक"}


@pytest.mark.parametrize("language", ["en", "hi"])
def test_a_worker_locks_herself_out_and_her_supervisor_sees_it(world, live_server, new_context, language):
    base, violations = live_server.url, []
    supervisor = named_supervisor(world)
    world.worker.preferred_language = language
    world.worker.save(update_fields=["preferred_language"])

    # 1. On her phone: ten wrong passwords, each answered by the same generic page with the static rule.
    phone = context_for(new_context, "phone").new_page()
    watch_csp(phone, violations)
    phone.goto(f"{base}/accounts/login/")
    switch_language(phone, language)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        phone.fill("input[name=username]", world.worker.username)
        phone.fill("input[name=password]", WRONG)
        phone.locator("main form button[type=submit]").click()
        expect(phone.locator("ul.messages li.error")).to_contain_text(WORDS[language]["failed"])
    expect(phone.locator("ul.messages li.error")).to_contain_text(WORDS[language]["rule"])
    expect(phone.locator("main")).not_to_contain_text("Ramesh")  # the page says nothing of her lock
    shoot(phone, f"locked-worker-login-phone-{language}")

    # 2. Her own number is told when to try again and whom to call, in her language.
    until = lock_state(world.worker).locked_until
    assert until is not None
    with override(language):
        moment = date_format(timezone.localtime(until), "DATETIME_FORMAT")
        time = date_format(timezone.localtime(until), "TIME_FORMAT")
    sms = Notification.objects.get(user=world.worker, kind="account_locked", channel="sms")
    text = render(sms.kind, sms.context, sms.language)[1]
    assert moment in text and "Ramesh Verma" in text and supervisor.mobile in text

    # 3. At his desk: the list's "Locked now" filter shows her, and until when.
    console = console_signed_in_earlier(new_context, base, supervisor, minutes=0)
    console.set_viewport_size(SIZES["desktop"])
    watch_csp(console, violations)
    console.goto(f"{base}/admin/accounts/user/")
    if language == "hi":
        console.select_option("#console-language", "hi")
        console.locator("#language-form button").click()
        expect(console.locator("html")).to_have_attribute("lang", "hi")
    console.locator("#changelist-filter").get_by_role("link", name=LOCKED_NOW[language]).click()
    console.wait_for_url(f"{base}/admin/accounts/user/?lock=now")
    rows = console.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(world.worker.username)
    cell = rows.first.locator("td.field-status_and_lock")
    expect(cell).to_have_text(
        UNTIL[language].format(time=time).replace(" ", "\u00a0").replace("\u00a0·\u00a0", "\u00a0· ")
    )
    shoot(console, f"locked-worker-console-desktop-{language}")
    assert violations == []
