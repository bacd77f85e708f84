"""gunicorn's settings for the image (Dockerfile) and `make loadtest`; the command line's
options (bind, workers, timeout) win over these.

- The access log goes through ``RedactingLogger``: URLs without invitation or receipt tokens
  and without query values (docs/security.md, "Logs").
- Request lines and headers are limited here; gunicorn has no body limit — the portal answers
  413 before reading a body over ``REQUEST_MAX_BYTES`` (``RequestSizeLimitMiddleware``), and
  a reverse proxy in front should refuse it earlier still (``client_max_body_size``).
"""

logger_class = "registration_portal.gunicorn_logging.RedactingLogger"
accesslog = "-"
# A request line longer than this (a URL of thousands of characters) is a 414.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
