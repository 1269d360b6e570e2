"""Events that happened before now (demo data, imports) join the hash chain in time order, through its API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from records.audit import access_event_append, access_events_append_past, chains_verify, genesis
from records.models import AccessChainHead, AccessEvent
from records.verification import verify


def fields(**extra) -> dict:
    return {"action": "view", "outcome": "allowed", "purpose": "due_dose", "ip_address": "10.0.0.7", **extra}


@pytest.mark.django_db
def test_past_events_are_chained_in_time_order_and_verify(world):
    now = timezone.now()
    times = [now - timedelta(days=d, hours=h) for d, h in ((30, 3), (30, 1), (12, 0), (1, 5))]
    assert access_events_append_past(actor=world.worker, events=[(t, fields()) for t in times]) == 4
    events = list(AccessEvent.objects.filter(actor=world.worker).order_by("actor_seq"))
    assert [e.created_at for e in events] == times and [e.actor_seq for e in events] == [1, 2, 3, 4]
    assert events[-1].pace_mean is None  # fewer requests than the cadence rule's window
    later = access_event_append(actor=world.worker, **fields())  # today's events go on after them
    assert later.actor_seq == 5 and later.prev_hash == events[-1].hash
    assert chains_verify() == (5, None) and verify().problem is None
    with pytest.raises(ValueError, match="not after the chain's latest"):  # the chain's latest is now today's
        access_events_append_past(actor=world.worker, events=[(times[-1] + timedelta(hours=1), fields())])


@pytest.mark.django_db
def test_past_events_leave_todays_counts_alone(world):
    today = timezone.localdate()
    AccessChainHead.objects.create(
        actor=world.worker, seq=0, hash=genesis(world.worker.pk), day=today, lookups=7, reveals=1
    )
    access_events_append_past(actor=world.worker, events=[(timezone.now() - timedelta(days=2), fields())])
    head = AccessChainHead.objects.get(actor=world.worker)
    assert (head.seq, head.day, head.lookups, head.reveals) == (1, today, 7, 1)
    assert verify().problem is None


@pytest.mark.django_db
@pytest.mark.parametrize("shift", [timedelta(minutes=5), -timedelta(days=3)])
def test_an_event_out_of_order_or_in_the_future_is_refused_and_nothing_is_appended(world, shift):
    now = timezone.now()
    first = now - timedelta(days=2)
    events = [(first, fields()), (now + shift if shift.days >= 0 else first + shift, fields())]
    with pytest.raises(ValueError):
        access_events_append_past(actor=world.worker, events=events)
    assert not AccessEvent.objects.filter(actor=world.worker).exists()
