"""Prahari settings: one module family, production and development differ by environment only.

Every value an operator may change is read here, once, from the environment (CONTRACT.md).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from portal.settings.env import env_bool, env_choice, env_int, env_list, env_networks, env_str
from portal.settings.governance import *  # noqa: F403  (the PRAHARI_* numbers of SECURITY.md)
from portal.settings.observability import (
    PRAHARI_METRICS_ALLOWED_IPS,  # noqa: F401  (read by portal/metrics.py)
    PRAHARI_METRICS_MULTIPROC_DIR,  # noqa: F401
    PRAHARI_METRICS_TOKEN,  # noqa: F401
    logging_settings,
)
from portal.settings.queues import celery_settings

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("PRAHARI_VAR_DIR", str(BASE_DIR / "var")))
# Where the `checkpoints` job appends signed access-log checkpoints (docs/audit-checkpoints.md): mount it
# append-only (or write-once) in production.
PRAHARI_AUDIT_CHECKPOINT_DIR = Path(env_str("PRAHARI_AUDIT_CHECKPOINT_DIR", str(VAR_DIR / "audit-checkpoints")))

DEBUG = env_bool("DJANGO_DEBUG", default=False)


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        if not DEBUG and len(key) < 50:
            raise ImproperlyConfigured("DJANGO_SECRET_KEY is too short: use at least 50 random characters.")
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Production needs a long random secret, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`; "
            "for local development set DJANGO_DEBUG=1 instead (make run does)."
        )
    # Development only: a random key kept under var/ so web, worker and beat share it across restarts.
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "portal.admin_config.PrahariAdminConfig",  # the OTP-only supervisor console replaces django.contrib.admin
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp.plugins.otp_email",  # installed, but codes by e-mail are offered only with PRAHARI_OTP_EMAIL_ENABLED
    "django_otp_webauthn",  # passkeys: its credential model and WebAuthn helper; the views are ours (docs/passkeys.md)
    "axes",
    "simple_history",
    "django_celery_beat",
    "portal",
    "accounts",
    "records",
    "governance",
]

MIDDLEWARE = [
    "portal.middleware.RequestObservationMiddleware",  # first: the request id, one log line, the latency
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionGuardMiddleware",
    "accounts.review_gate.ReconfirmGateMiddleware",  # after the guard: only sessions that may go on
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL only, from DATABASE_URL or else the embedded one under var/ (docs/database.md) ------
# What DATABASE_URL points at: PostgreSQL itself (or a pooler in session mode), or a pooler in transaction mode
# (PgBouncer's pool_mode = transaction), which hands each transaction to any of its server connections. Through
# the latter, nothing may outlive a transaction on the server: no prepared statements (the access log's append
# statements then run unprepared, records/statements.py) and no server-side cursors (Django's iterator() fetches
# in chunks from a cursor held across transactions otherwise). docs/database.md says what was tried.
DATABASE_POOLER_OPTIONS = {
    "none": {"DISABLE_SERVER_SIDE_CURSORS": False, "PREPARED_STATEMENTS": True},
    "transaction": {"DISABLE_SERVER_SIDE_CURSORS": True, "PREPARED_STATEMENTS": False},
}
PRAHARI_DB_POOLER = env_choice("PRAHARI_DB_POOLER", tuple(DATABASE_POOLER_OPTIONS), default="none")
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    from portal.embedded_postgres import embedded_database_url

    DATABASE_URL = embedded_database_url(VAR_DIR)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
# A database that does not answer fails a new connection (and /readyz) in seconds, not minutes; a
# `?connect_timeout=N` in DATABASE_URL wins.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://…): Prahari needs PostgreSQL.")
# A later error in a request must never roll back a logged read (STYLE.md, PITFALLS.md).
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].update(DATABASE_POOLER_OPTIONS[PRAHARI_DB_POOLER])
# Web processes only (portal/wsgi.py, portal/asgi.py): each statement of a request is cut after this many
# milliseconds (0: off; off through a transaction-mode pooler). portal/web_db.py.
PRAHARI_WEB_STATEMENT_TIMEOUT_MS = env_int("PRAHARI_WEB_STATEMENT_TIMEOUT_MS", 20000)
if PRAHARI_WEB_STATEMENT_TIMEOUT_MS < 0:
    raise ImproperlyConfigured("PRAHARI_WEB_STATEMENT_TIMEOUT_MS must be 0 (off) or a number of milliseconds.")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker and cache, nothing more -----------------------------------------------------
REDIS_URL = env_str("REDIS_URL") or None
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Users, passwords, authentication -----------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first, as django-axes requires
    "accounts.login.backends.GateAccountBackend",  # the login's password check on the account it read
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",  # Argon2id; older hashes upgrade on login
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "accounts.passwords.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "first_name", "last_name", "email", "mobile")},
    },
    {"NAME": "accounts.passwords.ContextWordValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# --- Sessions and cookies (SECURITY.md §Sessions) -----------------------------------------------
SESSION_ENGINE = "accounts.session_store"
# With DEBUG off the cookies that matter carry the `__Host-` prefix (ASVS 5.0 V3.3.1): the browser takes them only
# when Secure, for Path=/ and without a Domain, so neither a sibling sub-domain nor plain HTTP can plant or
# overwrite one. Development over http://localhost keeps the plain names.
COOKIE_PREFIX = "" if DEBUG else "__Host-"
SESSION_COOKIE_NAME = f"{COOKIE_PREFIX}sessionid"
CSRF_COOKIE_NAME = f"{COOKIE_PREFIX}csrftoken"
SESSION_COOKIE_AGE = PRAHARI_SESSION_ABSOLUTE_HOURS * 3600  # noqa: F405
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_NAME = f"{COOKIE_PREFIX}django_language"
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60  # the switch remembers the choice on this browser for a year

# --- Security headers (SECURITY.md §Deployment) -------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY") else None
# The proxies whose X-Forwarded-For is believed (accounts/request_info.py: client_ip); none by default.
TRUSTED_PROXIES = env_networks("DJANGO_TRUSTED_PROXIES")
# Load balancers probe over plain HTTP. /metrics is not exempt: over plain HTTP it answers as any path does.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# --- Internationalisation: UTC stored, Asia/Kolkata shown; English and Hindi --------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("hi", _("Hindi"))]
# The project's own catalogue first (it wins), then the Hindi for what the console inherits from Django and
# the installed apps where their catalogues have none or a wrong one; both win over the apps' own.
# `makemessages` writes only to the first (tests/portal/test_i18n_coverage.py).
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale-inherited"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Kolkata"
FORMAT_MODULE_PATH = ["portal.formats"]  # one way to write a date in each language (portal/formats/)

# --- Static files: `collectstatic` copies them to var/static (make serve does) --------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
if not DEBUG:
    # Each web process serves var/static itself (whitenoise): names carry a hash of the content, so browsers
    # may cache them for ever, and each text file has a gzip twin for clients that accept it. A template
    # naming a file collectstatic did not collect fails loudly rather than linking to nothing.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

# --- E-mail ------------------------------------------------------------------------------------
EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    from portal.settings.email import email_settings_from_url

    globals().update(email_settings_from_url(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "Prahari <no-reply@prahari.invalid>")
SMS_BACKEND = env_str("SMS_BACKEND", "console")  # console | file | locmem | http
SMS_FILE_PATH = Path(env_str("SMS_FILE_PATH", str(VAR_DIR / "sms")))
SMS_HTTP_URL = env_str("SMS_HTTP_URL")
SMS_HTTP_TOKEN = env_str("SMS_HTTP_TOKEN")
SMS_HTTP_SENDER = env_str("SMS_HTTP_SENDER", "PRAHRI")

# --- django-otp, django-axes, django-simple-history ---------------------------------------------
OTP_TOTP_ISSUER = "Prahari"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
OTP_TOTP_TOLERANCE = 1  # one 30-second step of clock drift either way (SECURITY.md)
PRAHARI_OTP_EMAIL_ENABLED = env_bool("PRAHARI_OTP_EMAIL_ENABLED", default=False)  # 63B rev 4: off
OTP_EMAIL_SUBJECT = "Prahari one-time code"
OTP_EMAIL_TOKEN_VALIDITY = 5 * 60
DEVICE_COOKIE_NAME = f"{COOKIE_PREFIX}prahari_device"
# Device cookies set under an earlier name: read once more and moved to DEVICE_COOKIE_NAME on the next request
# (accounts/login/device_cookie.py), so an approved browser stays approved across the rename.
DEVICE_COOKIE_OLD_NAMES = [name for name in ("prahari_device",) if name != DEVICE_COOKIE_NAME]
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600
PASSWORD_RESET_TIMEOUT = 30 * 60
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
AXES_HANDLER = "accounts.login.lockouts.AxesHandler"  # the database handler, one query per lock check
AXES_CLIENT_IP_CALLABLE = "accounts.request_info.client_ip"  # the one client address, proxies considered
AXES_FAILURE_LIMIT = PRAHARI_LOCKOUT_FAILURES  # noqa: F405
AXES_COOLOFF_TIME = PRAHARI_LOCKOUT_MINUTES / 60  # noqa: F405  (hours)
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = False  # a full login resets instead (lockouts.login_failures_reset: one DELETE)
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "accounts.login.lockouts.lockout_response"  # the same page as any other failure
AXES_CLIENT_STR_CALLABLE = "accounts.login.lockouts.client_str"  # its log lines name the route, never the path
AXES_DISABLE_ACCESS_LOG = True  # successes are AccountEvents; axes' own success log would grow without bound
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # one row per failure: the per-IP throttle counts these
AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT = 200
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "token", "code", "csrfmiddlewaretoken"]
SIMPLE_HISTORY_REVERT_DISABLED = True
# Passkeys: the relying party is the site's domain; an assertion from any other origin is refused.
# The defaults fit `make run` only (a site elsewhere refuses every passkey until both are set for its domain).
PRAHARI_WEBAUTHN_RP_ID = env_str("PRAHARI_WEBAUTHN_RP_ID", "localhost")
PRAHARI_WEBAUTHN_ORIGINS = env_list("PRAHARI_WEBAUTHN_ORIGINS", ["http://localhost:8000"])
OTP_WEBAUTHN_RP_ID = PRAHARI_WEBAUTHN_RP_ID
OTP_WEBAUTHN_RP_NAME = "Prahari"
OTP_WEBAUTHN_ALLOWED_ORIGINS = PRAHARI_WEBAUTHN_ORIGINS
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False  # a passkey stands in for the code, never for the password
OTP_WEBAUTHN_HELPER_CLASS = "accounts.webauthn.PrahariWebAuthnHelper"
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# --- Celery: Redis with REDIS_URL, otherwise an embedded filesystem broker; two queues (queues.py) ----------
# The soft time limit of every task, so the longest a governance job may run; the broker's visibility timeout
# and the hard limit derive from it.
PRAHARI_JOB_TIME_LIMIT_MINUTES = env_int("PRAHARI_JOB_TIME_LIMIT_MINUTES", 60)
PRAHARI_QUEUE_PREFIX = env_str("CELERY_QUEUE", "prahari")
globals().update(
    celery_settings(
        prefix=PRAHARI_QUEUE_PREFIX, redis_url=REDIS_URL, var_dir=VAR_DIR, job_minutes=PRAHARI_JOB_TIME_LIMIT_MINUTES
    )
)
# The beat lock (portal/beat.py) is a session-level advisory lock: it needs a connection that stays one
# PostgreSQL session, so through PgBouncer only in session mode; by default the database of DATABASE_URL.
_beat_lock_url = env_str("PRAHARI_BEAT_LOCK_DATABASE_URL")
PRAHARI_BEAT_LOCK_DATABASE = dj_database_url.parse(_beat_lock_url) if _beat_lock_url else None

# --- Metrics and logs (portal/settings/observability.py, docs/operations.md) --------------------------
PRAHARI_LOG_FORMAT, LOGGING = logging_settings(debug=DEBUG)
