"""A refused request (403) is one line in the log, not two, and carries no traceback; a server
error keeps its traceback."""

import copy
import io
import logging
import logging.config

import pytest
from django.conf import settings as django_settings
from django.utils.log import DEFAULT_LOGGING

pytestmark = pytest.mark.django_db
LOGGERS = ("", "django", "django.request", "django.server")


@pytest.fixture
def portal_logging(settings):
    """The logging `make run` has: Django's defaults with DEBUG on, then the portal's; what
    their console handlers write, in a string."""
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate,
               logging.getLogger(name).level, logging.getLogger(name).filters[:])
        for name in LOGGERS
    }  # fmt: skip
    settings.DEBUG = True
    out = io.StringIO()
    for config in (DEFAULT_LOGGING, django_settings.LOGGING):
        config = copy.deepcopy(config)
        config["handlers"]["console"]["stream"] = out
        logging.config.dictConfig(config)
    yield out
    for name, (handlers, propagate, level, filters) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate, logger.level, logger.filters = (
            handlers, propagate, level, filters,
        )  # fmt: skip


def test_a_403_is_logged_once_without_a_traceback(portal_logging, client, clerk):
    client.force_login(clerk)

    response = client.get("/reports/exports/")  # a clerk may not export

    assert response.status_code == 403
    err = portal_logging.getvalue()
    assert err.count("Forbidden (Permission denied)") == 1, err
    assert "Traceback" not in err


def test_a_server_error_keeps_its_traceback(portal_logging):
    logger = logging.getLogger("django.request")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.error("Internal Server Error: /x", exc_info=True, extra={"status_code": 500})

    err = portal_logging.getvalue()
    assert err.count("Internal Server Error: /x") == 1
    assert "Traceback" in err and "RuntimeError: boom" in err
