"""Request bodies are limited before anything reads them: 413 for a body over the limit
(small for anonymous callers, who can only sign in), the photo and document uploads fit."""

import io

import pytest
from django.test import RequestFactory

from core.middleware import RequestSizeLimitMiddleware

pytestmark = pytest.mark.django_db


class Unreadable(io.RawIOBase):
    def read(self, *args):  # pragma: no cover - reaching it is the failure
        raise AssertionError("the body was read")

    readinto = read


def _request(content_length: int, path="/api/v1/auth/token/", **extra):
    request = RequestFactory().post(path, data=b"", content_type="application/json", **extra)
    request.META["CONTENT_LENGTH"] = str(content_length)
    request.META["wsgi.input"] = Unreadable()
    request._stream = Unreadable()
    return request


def test_an_anonymous_50_mb_body_is_refused_unread(settings):
    from django.contrib.auth.models import AnonymousUser

    middleware = RequestSizeLimitMiddleware(lambda r: pytest.fail("the view ran"))
    request = _request(50 * 1024 * 1024)
    request.user = AnonymousUser()

    response = middleware(request)

    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")


def test_anonymous_bodies_over_the_small_limit_answer_413(client, settings):
    body = b"{" + b" " * (settings.ANONYMOUS_REQUEST_MAX_BYTES + 10) + b"}"

    response = client.post("/api/v1/auth/token/", body, content_type="application/json")

    assert response.status_code == 413
    page = client.post("/accounts/login/", body, content_type="application/x-www-form-urlencoded")
    assert page.status_code == 413


def test_a_signed_in_body_over_the_limit_answers_413(client, clerk, settings):
    settings.REQUEST_MAX_BYTES = 1024
    client.force_login(clerk)

    response = client.post("/registrations/new/", {"x": "y" * 2048})

    assert response.status_code == 413


def test_the_limits_fit_the_uploads(settings):
    # Two photos at their limit and the form around them.
    assert settings.REQUEST_MAX_BYTES > 2 * settings.PHOTO_MAX_BYTES
    assert settings.ANONYMOUS_REQUEST_MAX_BYTES <= 64 * 1024
    # Form fields (not files) held in memory stay small.
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 2.5 * 1024 * 1024
