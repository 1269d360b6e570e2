"""Devices recorded as approved from the start (set-up and demo data): history and events, no notice."""

import pytest

from accounts.exceptions import DomainError, NotPermitted
from accounts.models import AccountEvent, AccountEventType, Notification, RegisteredDevice
from accounts.services.devices import device_find, device_register_approved, device_token_new


@pytest.mark.django_db
def test_a_device_approved_from_the_start_is_recorded_but_nobody_is_notified(world):
    token = device_token_new()
    device = device_register_approved(
        user=world.worker, token=token, label="demo browser", acting_user=world.system, reason="demo set-up"
    )
    assert device_find(user=world.worker, token=token) == device
    assert (device.status, device.decided_by, device.label) == ("approved", world.system, "demo browser")
    assert device.history.count() == 2 and device.history.first().history_change_reason == "demo set-up"
    types = list(AccountEvent.objects.filter(subject=world.worker).values_list("type", flat=True).order_by("pk"))
    assert types == [AccountEventType.DEVICE_REGISTERED, AccountEventType.DEVICE_APPROVED]
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_it_keeps_the_approval_rules(world, settings):
    with pytest.raises(NotPermitted):  # nobody approves their own device
        device_register_approved(
            user=world.worker, token=device_token_new(), label="x", acting_user=world.worker, reason="mine"
        )
    settings.PRAHARI_MAX_APPROVED_DEVICES = 1
    device_register_approved(
        user=world.worker, token=device_token_new(), label="a", acting_user=world.system, reason="one"
    )
    with pytest.raises(DomainError, match="already has 1 approved devices"):
        device_register_approved(
            user=world.worker, token=device_token_new(), label="b", acting_user=world.system, reason="two"
        )
    assert RegisteredDevice.objects.filter(user=world.worker).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("decide", ["device_approve", "device_reject", "device_revoke"])
def test_a_device_decision_that_fails_half_way_leaves_nothing_written(world, monkeypatch, decide):
    """Outside any test transaction, as in production: a failure after the status is saved (here the
    notice) must take the status, its history and its event back with it."""
    from accounts.services import devices

    device = devices.device_register(user=world.worker, token=device_token_new(), ip=None, user_agent="t")
    events = AccountEvent.objects.count()

    def broken_notify(**kwargs):
        raise RuntimeError("the notice could not be queued")

    monkeypatch.setattr(devices, "notify", broken_notify)
    with pytest.raises(RuntimeError):
        getattr(devices, decide)(device=device, acting_user=world.supervisor, reason="checked with the worker")
    device.refresh_from_db()
    assert device.status == RegisteredDevice.Status.PENDING and device.decided_by is None
    assert device.history.count() == 1 and AccountEvent.objects.count() == events
