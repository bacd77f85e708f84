# Satu Pintu: one image for web (gunicorn), worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=registration_portal.settings.production
RUN apt-get update && apt-get install -y --no-install-recommends gettext curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 satupintu
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY --chown=satupintu:satupintu . .
# collectstatic/compilemessages need settings, not secrets: give them throwaway values at build.
RUN SECRET_KEY=build-only-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
    FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktLS0tLS0tLS0tLS0tLS0tLS0= ID_DIGEST_KEY=build \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput \
    && (python manage.py compilemessages --ignore=.venv || true)
USER satupintu
EXPOSE 8000
CMD ["gunicorn", "registration_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60", "--access-logfile", "-"]
