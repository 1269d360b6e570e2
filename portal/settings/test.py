"""Test runs: production-like settings (DEBUG off) with a per-run random secret and plain-HTTP test client.

Environment defaults are set here before `portal.settings.base` loads; only the password hashers and static
files differ from it afterwards.
"""

import os
import secrets

os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
# The test client speaks plain HTTP; the HTTPS redirect itself is checked by the `check --deploy` test.
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from portal.settings.base import *  # noqa: F403

# Argon2 at full cost makes every factory-built account slow; tests check behaviour, not the hash.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405

# Tests collect no static files: plain names under STATIC_URL, no manifest, and no whitenoise looking for
# var/static (the production profile's smoke test, tests/portal/test_serve.py, collects and serves them).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MIDDLEWARE = [name for name in MIDDLEWARE if name != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405
