import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
application = get_asgi_application()

from portal.web_db import statement_timeout_enable  # noqa: E402 (settings are loaded by now)

statement_timeout_enable()  # web processes only (portal/web_db.py)
