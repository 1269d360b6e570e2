"""django-axes' tables do not grow without bound: old failure logs and cooled-off attempts are pruned."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.utils import timezone

from accounts.services.retention import axes_logs_prune


def _aged(model, age, **fields):
    row = model.objects.create(ip_address="10.0.0.1", user_agent="", http_accept="", path_info="/", **fields)
    model.objects.filter(pk=row.pk).update(attempt_time=timezone.now() - age)  # the field stamps "now" itself


@pytest.mark.django_db
def test_axes_logs_prune_keeps_what_the_rules_still_need():
    _aged(AccessFailureLog, timedelta(hours=1), username="recent")
    _aged(AccessFailureLog, timedelta(days=3), username="old")
    _aged(AccessAttempt, timedelta(minutes=5), username="locked", failures_since_start=10, get_data="", post_data="")
    _aged(AccessAttempt, timedelta(minutes=20), username="cooled", failures_since_start=10, get_data="", post_data="")
    assert axes_logs_prune() == 2
    assert list(AccessFailureLog.objects.values_list("username", flat=True)) == ["recent"]
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["locked"]
