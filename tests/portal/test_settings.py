"""Settings refuse to start insecurely; production-like settings pass `check --deploy`."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRAHARI_"))}
    clean.pop("DATABASE_URL", None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", PRAHARI_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_short_secret_key(tmp_path):
    result = _manage("check", DJANGO_SECRET_KEY="short", PRAHARI_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "too short" in result.stderr


def test_an_unreadable_boolean_stops_start_up(tmp_path):
    result = _manage("check", DJANGO_DEBUG="perhaps", PRAHARI_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_DEBUG='perhaps' is not a boolean" in result.stderr


def test_development_makes_its_own_secret_under_var(tmp_path):
    result = _manage("check", DJANGO_DEBUG="1", PRAHARI_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "dev-secret-key"
    assert len(key_file.read_text()) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_check_deploy_passes_with_production_environment(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="prahari.health.example.in",
        PRAHARI_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_a_debug_deployment(tmp_path):
    """The check above can fail: the same command on a DEBUG environment reports problems."""
    result = _manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="1", PRAHARI_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


def test_base_settings_put_argon2id_first_and_keep_requests_non_atomic(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.PASSWORD_HASHERS[0]);"
        "print(s.DATABASES['default']['ATOMIC_REQUESTS'], s.USE_TZ, s.TIME_ZONE, s.DEBUG)"
    )
    result = _manage(
        "shell", "--no-imports", "-c", code, DJANGO_SECRET_KEY=secrets.token_urlsafe(50), PRAHARI_VAR_DIR=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "False True Asia/Kolkata False",
    ]


@pytest.mark.parametrize(
    ("pooler", "expected"),
    [(None, "none False True"), ("transaction", "transaction True False"), (" Transaction ", "transaction True False")],
)
def test_a_transaction_pooler_turns_prepared_statements_and_server_side_cursors_off(tmp_path, pooler, expected):
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default'];"
        "print(s.PRAHARI_DB_POOLER, d['DISABLE_SERVER_SIDE_CURSORS'], d['PREPARED_STATEMENTS'])"
    )
    env = {"PRAHARI_DB_POOLER": pooler} if pooler is not None else {}
    result = _manage("shell", "--no-imports", "-c", code, DJANGO_DEBUG="1", PRAHARI_VAR_DIR=str(tmp_path), **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_an_unknown_pooler_stops_start_up(tmp_path):
    result = _manage("check", DJANGO_DEBUG="1", PRAHARI_DB_POOLER="pgbouncer", PRAHARI_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "PRAHARI_DB_POOLER='pgbouncer' is not one of: none, transaction." in result.stderr
    assert "Traceback" not in result.stderr


def test_argon2_hasher_is_argon2id():
    from django.contrib.auth.hashers import Argon2PasswordHasher

    assert (
        Argon2PasswordHasher().encode("a long passphrase", Argon2PasswordHasher().salt()).startswith("argon2$argon2id$")
    )


def test_database_url_selects_the_database_else_the_embedded_one_under_var():
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    if not os.environ.get("DATABASE_URL"):
        assert Path(database["HOST"]) == (settings.VAR_DIR / "postgres").resolve()  # its socket directory


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("short9char", True),  # exactly 10 characters
        ("short9cha", False),  # 9
        ("x" * 3 + "correct horse battery staple " * 4, True),  # long passphrases welcome (≤ 128)
        ("y" * 129, False),
        ("my prahari password", False),  # the product name
        ("lucknow rains in june", False),  # the user's district
        ("password123", False),  # common
        ("1234567890123", False),  # numeric
    ],
)
@pytest.mark.django_db
def test_password_rules_of_security_md(world, password, accepted):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    if accepted:
        validate_password(password, world.worker)
    else:
        with pytest.raises(ValidationError):
            validate_password(password, world.worker)


@pytest.mark.django_db
def test_password_may_not_contain_the_users_name_or_facility(world):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for word in ("asha", "chinhat", world.worker.last_name.lower()):
        with pytest.raises(ValidationError):
            validate_password(f"{word} sings every morning", world.worker)
