"""The Celery application: one more interface onto the services, configured from settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registration_portal.settings.local")

app = Celery("registration_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The compliance app keeps its tasks with its two parts.
app.autodiscover_tasks(["compliance.reconciliation", "compliance.workflow"])
