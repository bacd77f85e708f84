"""gunicorn's logger with the access log's URLs redacted (``core.logredact``): no invitation
or receipt token, no searched-for value in a log line. Set by ``gunicorn.conf.py``."""

from gunicorn.glogging import Logger

from core.logredact import REDACTED, redact_path, redact_query, redact_url

# Atoms of request headers and environ variables that hold a URL or a credential.
_SECRET_ATOMS = ("authorization", "cookie", "referer", "raw_uri", "path_info", "query_string")


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        raw_path, _, raw_query = (environ.get("RAW_URI") or "").partition("?")
        path = redact_path(raw_path or environ.get("PATH_INFO") or "")
        query = redact_query(raw_query or environ.get("QUERY_STRING") or "")
        uri = f"{path}?{query}" if query else path
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {uri} {environ.get('SERVER_PROTOCOL')}"
        atoms["U"] = redact_path(environ.get("PATH_INFO") or "")
        atoms["q"] = query
        atoms["f"] = redact_url(environ.get("HTTP_REFERER", "-"))
        for key in atoms:
            if key.startswith("{") and any(secret in key for secret in _SECRET_ATOMS):
                atoms[key] = REDACTED
        return atoms
