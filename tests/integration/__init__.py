"""Integration tests against real services: a Celery worker process, PostgreSQL and Redis.

The helpers below decide between "skip" and "fail" when a service is missing; tests elsewhere that
need Redis (e.g. tests/portal/test_healthz.py) use them too. With PRAHARI_REQUIRE_SERVICES=1 (as
`.ci/run` sets) a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid

import pytest

REDIS_PING_TIMEOUT_SECONDS = 3


def services_required() -> bool:
    return os.environ.get("PRAHARI_REQUIRE_SERVICES", "").strip() == "1"


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it when the run requires every service (PRAHARI_REQUIRE_SERVICES=1)."""
    if services_required():
        pytest.fail(f"{reason} (PRAHARI_REQUIRE_SERVICES=1: a missing service is a failure)", pytrace=False)
    pytest.skip(reason)


def reachable_redis_url() -> str:
    """Return REDIS_URL after a ping; skip when it is unset, fail when it is set but unreachable."""
    url = os.environ.get("REDIS_URL", "").strip()
    if not url:
        skip_or_fail("REDIS_URL is not set: this test needs a real Redis")
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_PING_TIMEOUT_SECONDS, socket_timeout=REDIS_PING_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"REDIS_URL={url} is set but Redis does not answer PING: {exc}", pytrace=False)
    finally:
        client.close()
    return url


def unique_queue_name() -> str:
    """A queue no other worker consumes (only letters, digits and hyphens: valid for every transport)."""
    return f"prahari-it-{uuid.uuid4().hex}"
