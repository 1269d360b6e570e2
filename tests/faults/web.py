"""A web process of the test's own: gunicorn (one process, threads) serving portal.wsgi, as `make serve` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings

from tests.faults.services import free_port, wait_until


@dataclass
class Web:
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no output)"

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.base}/healthz", timeout=5).status_code in (200, 503)
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def web_start(*, tmp_path: Path, env: dict[str, str | None]) -> Web:
    """gunicorn with portal.settings.test; `env` overrides the inherited environment (None removes a variable)."""
    port = free_port()
    process_env = os.environ | {"DJANGO_SETTINGS_MODULE": "portal.settings.test", "PYTHONUNBUFFERED": "1"}
    for key, value in env.items():
        if value is None:
            process_env.pop(key, None)
        else:
            process_env[key] = value
    log_path = tmp_path / f"web-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--worker-class", "gthread", "--threads", "4", "--timeout", "90"],
            cwd=settings.BASE_DIR, env=process_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    web = Web(port=port, process=process, log_path=log_path)
    wait_until(web.answers, what="gunicorn answering /healthz", timeout=60, output=web.output)
    return web
