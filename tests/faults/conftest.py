"""Fixtures of the fault tests: a Redis and a PostgreSQL cluster of each test's own (tests/faults/services.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.services import OwnPostgres, OwnRedis, free_port


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(port=free_port(), log_path=tmp_path / "redis.log")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    # Not under tmp_path: pytest makes its directories 0700, and as root PostgreSQL runs as another user.
    root = Path(tempfile.mkdtemp(prefix="prahari-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = OwnPostgres(data_dir=root / "data", port=free_port(), log_path=root / "postgres.log")
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        print(f"--- PostgreSQL of the test ---\n{cluster.output()[-4000:]}")
        shutil.rmtree(root, ignore_errors=True)
