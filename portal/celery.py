"""The Celery application: configured from Django settings (CELERY_*), tasks discovered per app.

Its processes log as the web does, and a task sent during a request carries the request's id into the
worker's log lines (portal/logs.py).
"""

import os

from celery import Celery, signals

from portal import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

signals.setup_logging.connect(logs.celery_logging_setup, weak=False)
signals.before_task_publish.connect(logs.task_headers_add, weak=False)
signals.task_prerun.connect(logs.task_context_enter, weak=False)
signals.task_postrun.connect(logs.task_context_exit, weak=False)
