"""`manage.py device approve`: the bootstrap path for the first administrator's device."""

import re

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AccountEvent, AccountEventType
from accounts.services.devices import device_register, device_token_new


@pytest.mark.django_db
def test_device_approve_command_approves_the_pending_device_as_the_system(world, capsys):
    device = device_register(user=world.state_admin, token=device_token_new(), ip=None, user_agent="Firefox on Linux")
    call_command("device", "approve", "--user", "SA.UP", "--code", device.code.lower(), "--reason", "bootstrap")
    device.refresh_from_db()
    assert device.status == "approved"
    assert device.decided_by.username == "prahari-system"
    assert device.history.first().history_change_reason == "bootstrap"
    assert AccountEvent.objects.filter(subject=world.state_admin, type=AccountEventType.DEVICE_APPROVED).exists()
    assert f"Approved device {device.code}" in capsys.readouterr().out


@pytest.mark.django_db
def test_device_approve_command_refuses_a_wrong_code_clearly(world):
    device_register(user=world.state_admin, token=device_token_new(), ip=None, user_agent="")
    with pytest.raises(CommandError, match=re.escape("No pending device of user 'sa.up' has the code 'ZZZZ2222'")):
        call_command("device", "approve", "--user", "sa.up", "--code", "ZZZZ2222", "--reason", "bootstrap")
