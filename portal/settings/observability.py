"""Settings of the metrics endpoint and the logs (docs/operations.md, "Metrics and logs"), read once.

`portal.settings.base` takes every name here; nothing else reads these variables.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from portal.settings.env import env_choice, env_networks, env_str

METRICS_TOKEN_MIN_LENGTH = 32


def metrics_token() -> str:
    """PRAHARI_METRICS_TOKEN: the bearer token a scraper may present; empty for none. Refuses a short one."""
    token = (env_str("PRAHARI_METRICS_TOKEN") or "").strip()
    if token and len(token) < METRICS_TOKEN_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"PRAHARI_METRICS_TOKEN is too short: use at least {METRICS_TOKEN_MIN_LENGTH} random characters, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
    return token


def metrics_multiproc_dir() -> Path | None:
    """PROMETHEUS_MULTIPROC_DIR (prometheus-client's own variable): the directory every process of this host
    writes its metric files to, summed by /metrics. Refused when set but not an existing directory."""
    raw = env_str("PROMETHEUS_MULTIPROC_DIR")
    if not raw:
        return None
    path = Path(raw)
    if not path.is_dir():
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR={raw!r} is not a directory: create it (empty) before starting the processes."
        )
    return path


PRAHARI_METRICS_ALLOWED_IPS = env_networks("PRAHARI_METRICS_ALLOWED_IPS")  # as seen by accounts.request_info
PRAHARI_METRICS_TOKEN = metrics_token()
PRAHARI_METRICS_MULTIPROC_DIR = metrics_multiproc_dir()


def logging_settings(*, debug: bool) -> tuple[str, dict]:
    """(PRAHARI_LOG_FORMAT, LOGGING): JSON lines by default when DEBUG is off, plain text in development;
    the root logger's level from DJANGO_LOG_LEVEL (INFO)."""
    log_format = env_choice("PRAHARI_LOG_FORMAT", ("json", "text"), default="text" if debug else "json")
    formatter = "portal.logs.JsonFormatter" if log_format == "json" else "portal.logs.TextFormatter"
    return log_format, {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "portal.logs.ContextFilter"}},
        "formatters": {"portal": {"()": formatter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "portal", "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
        "loggers": {
            # Django's own records go to the handler above only (not also to its DEBUG console handler,
            # which would print them a second time, unfiltered).
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.db.backends": {"level": "WARNING"},
            # At DEBUG it writes a whole template context (request, tokens, a record's fields) per missing variable.
            "django.template": {"level": "INFO"},
            "pgserver": {"level": "WARNING"},  # logs each start, join and stop of the embedded PostgreSQL at INFO
            # runserver's access lines hold paths and query strings; prahari.request writes one line per
            # request with the route instead (portal/middleware.py).
            "django.server": {"level": "WARNING"},
        },
    }
