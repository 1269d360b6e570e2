"""The WSGI application of `make load`'s gunicorn: portal.wsgi's, with bench/_load_settings.py."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench._load_settings"  # make serve set portal.settings.base: replace it
application = get_wsgi_application()
