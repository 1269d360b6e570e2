"""Test runs: production-like settings (DEBUG off) with a per-run random secret and plain-HTTP test client.

Only environment defaults are set here; every setting still comes from `portal.settings.base`.
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
