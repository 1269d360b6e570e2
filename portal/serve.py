"""`make serve`: the production profile on this machine, in the foreground (docs/operations.md).

Refuses to start, naming what is missing, without DATABASE_URL, REDIS_URL and DJANGO_SECRET_KEY (no
embedded database or broker, no generated secret: the audit key derives from the secret, so a key made up
here and lost with var/ would leave the access log's chain unverifiable). Then, with DEBUG off and the
real settings: migrate, collect the static files into var/static (hashed and compressed), `check --deploy`,
and hand over to honcho, which runs Procfile.production (gunicorn, a Celery worker per queue, one beat)
until Ctrl-C or SIGTERM stops them all.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile.production"
REQUIRED = {
    "DATABASE_URL": "the PostgreSQL database, e.g. postgres://prahari:PASSWORD@db.internal:5432/prahari",
    "REDIS_URL": "the Redis of the broker and cache, e.g. redis://127.0.0.1:6379/0",
    "DJANGO_SECRET_KEY": "50 random characters or more, kept with the deployment's other secrets: "
    "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'",
}
LOCAL_HOSTS = "127.0.0.1,localhost"


def problems(env: Mapping[str, str]) -> list[str]:
    """What in `env` stops the production profile from starting; empty when it may start."""
    found = [f"{name} is not set: {what}" for name, what in REQUIRED.items() if not env.get(name, "").strip()]
    if env.get("DJANGO_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}:
        found.append(
            "DJANGO_DEBUG is on: the production profile runs with DEBUG off (`make run` is the development one)"
        )
    workers = env.get("WEB_CONCURRENCY", "2").strip()
    if not workers.isdigit() or int(workers) < 1:
        found.append(f"WEB_CONCURRENCY={workers!r} is not a number of web processes (1 or more)")
    return found


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


def main() -> int:
    found = problems(os.environ)
    if found:
        print("make serve: the production profile cannot start:", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.base"  # the real settings, whatever the shell had
    os.environ["DJANGO_DEBUG"] = "0"
    if "DJANGO_ALLOWED_HOSTS" not in os.environ:
        os.environ["DJANGO_ALLOWED_HOSTS"] = LOCAL_HOSTS
        _step(f"DJANGO_ALLOWED_HOSTS is not set: answering only for {LOCAL_HOSTS}")
    # Every process of this host writes its metrics into one directory that /metrics sums (portal/metrics.py);
    # counts of an earlier run must not be summed in, so it starts empty.
    var_dir = Path(os.environ.get("PRAHARI_VAR_DIR") or ROOT / "var")
    metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or var_dir / "metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    bin_dir = str(Path(sys.executable).parent)  # Procfile.production names gunicorn and celery of this venv
    os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])

    import django
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.db import DatabaseError, connections

    try:
        django.setup()
        _step("Applying migrations")
        call_command("migrate", interactive=False, verbosity=1)
        _step("Collecting static files into STATIC_ROOT (hashed names, gzip variants)")
        call_command("collectstatic", interactive=False, verbosity=1)
        _step("Checking the deployment settings")
        call_command("check", deploy=True)
    except (ImproperlyConfigured, SystemCheckError) as exc:
        print(f"make serve: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"make serve: the database of DATABASE_URL did not answer: {exc}", file=sys.stderr)
        return 2
    connections.close_all()
    _step("Starting gunicorn, the notifications and governance workers and beat (Ctrl-C stops them all)")
    os.chdir(ROOT)
    command = [sys.executable, "-m", "honcho", "start", "--procfile", str(PROCFILE), "--app-root", str(ROOT)]
    os.execv(sys.executable, command)  # noqa: S606  (honcho takes over this process: its signals, its exit)
    return 0  # not reached: honcho replaced this process


if __name__ == "__main__":
    sys.exit(main())
