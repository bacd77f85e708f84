# Satu Pintu: one image for web (gunicorn), worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=registration_portal.settings.production
RUN apt-get update && apt-get install -y --no-install-recommends gettext curl postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 satupintu
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY --chown=satupintu:satupintu . .
# collectstatic/compilemessages need settings, not secrets: give them throwaway keys generated
# at build (production refuses any key committed in the repository, docs/security.md "Keys").
RUN SECRET_KEY=$(python -c 'import secrets;print(secrets.token_urlsafe(50))') \
    FIELD_ENCRYPTION_KEYS=$(python -c 'from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())') \
    ID_DIGEST_KEY=$(python -c 'import secrets;print(secrets.token_urlsafe(32))') \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    PUBLIC_BASE_URL=https://build.invalid \
    python manage.py collectstatic --noinput \
    && (python manage.py compilemessages --ignore=.venv || true)
USER satupintu
EXPOSE 8000
# gunicorn.conf.py: the access log without tokens or query values, request-line/header limits.
CMD ["gunicorn", "registration_portal.wsgi", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
