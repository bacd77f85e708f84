import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registration_portal.settings.production")
application = get_wsgi_application()

# Refuse to serve with an ID_DIGEST_KEY that is not the one the stored digests were made with:
# every look-up, the per-ID cap and the own-ID rule would silently find nothing.
from django.db import connections  # noqa: E402

from core.pii import digest_key_check  # noqa: E402

digest_key_check()
connections.close_all()
