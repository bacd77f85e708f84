"""HTTP helpers of the fault tests: a real client (requests) against ``live_server``."""

import re
from datetime import date

import requests

from tests.conftest import PASSWORD, buyer_data, image_bytes

REGISTRATIONS = "/api/v1/registrations/"
FORM = "/registrations/new/"


def buyer(pack, serial: int) -> dict:
    birth = date(1991, 4, 12)
    from identity.idgen import make_nik

    return buyer_data(
        pack,
        id_number=make_nik(birth_date=birth, sex="M", serial=serial),
        birth_date=birth.isoformat(),
        sex="M",
        full_name="Budi Santoso",
    )


def multipart(pack, serial: int = 101) -> tuple[dict, dict]:
    fields = {k: ("true" if v is True else str(v)) for k, v in buyer(pack, serial).items()}
    files = {
        "id_photo": ("ktp.jpg", image_bytes(), "image/jpeg"),
        "face_photo": ("face.jpg", image_bytes(), "image/jpeg"),
    }
    return fields, files


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def browser_session(base: str, username: str) -> requests.Session:
    """A logged-in browser-like session (cookies, CSRF tokens), in English."""
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    page = session.get(f"{base}/accounts/login/", timeout=10)
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": _csrf(page.text)},
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:300]
    return session


def post_form(session: requests.Session, base: str, pack, serial: int = 101):
    page = session.get(f"{base}{FORM}", timeout=10)
    fields, files = multipart(pack, serial)
    fields = {k: ("on" if v == "true" else v) for k, v in fields.items()}
    return session.post(
        f"{base}{FORM}",
        data={**fields, "csrfmiddlewaretoken": _csrf(page.text)},
        files=files,
        headers={"Referer": f"{base}{FORM}"},
        allow_redirects=False,
        timeout=15,
    )
