"""The Celery application: one more interface onto the services, configured from settings."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registration_portal.settings.local")

app = Celery("registration_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The compliance app keeps its tasks with its two parts.
app.autodiscover_tasks(["compliance.reconciliation", "compliance.workflow"])


@worker_init.connect
def _refuse_a_wrong_digest_key(**kwargs):
    """A worker with the wrong ID_DIGEST_KEY would count and match nothing: it does not start."""
    from django.db import connections

    from core.pii import digest_key_check

    digest_key_check()
    connections.close_all()
