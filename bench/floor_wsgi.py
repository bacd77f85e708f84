"""The floor of ``bench_registration_api.py``: a bare WSGI application doing the same work as
``POST /api/v1/registrations/`` without the framework and the portal's rules.

Served by the same gunicorn (same workers, same client, same multipart bodies), each request:
reads the whole body; finds the two photo parts; checks each JPEG the way the registration
request does (header, a 1/8-scale decode of the whole scan); writes both files to the private
folder; and in one transaction claims the pack (``UPDATE … RETURNING``), inserts the
registration row and its audit row. What it leaves out is what the portal adds on top: session
and token look-up, throttles, idempotency, the identity rules, encryption and digests of the
ID numbers, the form's field parsing and the JSON answer's serialisation.

``POST /api/v1/auth/token/`` answers a dummy token so that the benchmark's client code runs
unchanged. Configured by the environment: ``FLOOR_DSN`` (a libpq connection string),
``FLOOR_MEDIA`` (a folder), ``FLOOR_POLICY`` (the id of the rule set written in the row).
"""

import io
import json
import os
import uuid

import psycopg2
from PIL import Image

_connection = None

INSERT_REGISTRATION = """
INSERT INTO subscribers_registration (registration_number, outlet_id, clerk_id,
    starter_pack_id, msisdn, iccid, policy_id, id_type, id_number_encrypted, id_number_digest,
    id_number_masked, kk_number_encrypted, kk_number_digest, kk_number_masked, full_name,
    birth_place, birth_date, sex, address, nationality, id_photo, id_photo_thumb, face_photo,
    face_photo_thumb, photo_status, consent_at, document_checked, status, review_reasons, source,
    registered_at, created_at, updated_at)
VALUES (%s, %s, NULL, %s, %s, '', %s, 'ktp', %s, %s, %s, %s, %s, %s, %s, 'Bandung',
    '1990-08-17', 'F', 'Jl. Diponegoro No. 5, Bandung', 'ID', %s, '', %s, '', 'pending', now(),
    true, 'registered', '[]', 'api', now(), now(), now())
RETURNING id
"""

INSERT_AUDIT = """
INSERT INTO compliance_auditevent (actor_id, actor_label, action, target_type, target_id,
    target_repr, request_id, before, after, created_at)
VALUES (NULL, 'floor', 'registration.create', 'registration', %s, %s, '', NULL, %s, now())
"""


def _db():
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg2.connect(os.environ["FLOOR_DSN"])
    return _connection


def _parts(body: bytes, content_type: str) -> dict[str, bytes]:
    boundary = b"--" + content_type.split("boundary=", 1)[1].strip('"').encode()
    parts = {}
    for chunk in body.split(boundary)[1:-1]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        parts[name] = data[:-2]  # the CRLF before the next boundary
    return parts


def _check_jpeg(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        img.load()


def application(environ, start_response):
    if environ["REQUEST_METHOD"] == "GET":  # the benchmark's readiness probe
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    if environ["PATH_INFO"] == "/api/v1/auth/token/":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"token": "floor"}']
    parts = _parts(body, environ["CONTENT_TYPE"])
    msisdn = "62" + parts["msisdn"].decode()[1:]
    names = {}
    for field in ("id_photo", "face_photo"):
        _check_jpeg(parts[field])
        name = f"floor/{uuid.uuid4().hex}.jpg"
        path = os.path.join(os.environ["FLOOR_MEDIA"], name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(parts[field])
        names[field] = name
    conn = _db()
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "UPDATE outlets_starterpack SET status = 'registered', updated_at = now() "
            "WHERE msisdn = %s AND status = 'in_stock' RETURNING id, outlet_id",
            [msisdn],
        )
        pack_id, outlet_id = cursor.fetchone()
        number = f"SPF{uuid.uuid4().hex[:12].upper()}"
        nik = parts["id_number"].decode()
        cursor.execute(
            INSERT_REGISTRATION,
            [
                number, outlet_id, pack_id, msisdn, int(os.environ["FLOOR_POLICY"]),
                nik, nik, nik[:4] + "********" + nik[-4:], "", "", "",
                parts["full_name"].decode(), names["id_photo"], names["face_photo"],
            ],
        )  # fmt: skip
        registration_id = cursor.fetchone()[0]
        cursor.execute(
            INSERT_AUDIT,
            [str(registration_id), number, json.dumps({"msisdn": msisdn, "outlet": outlet_id})],
        )
    answer = json.dumps({"registration_number": number, "msisdn": msisdn}).encode()
    start_response("201 Created", [("Content-Type", "application/json")])
    return [answer]
