"""The load test's buyers and photos: pure Python (and Pillow), shared by the locustfile, which
sends them, and ``seed.py``, which puts every buyer a run will send in the mock population
registry — under the rules in force (2026-07: NIK + face verified by the registry) a buyer the
registry does not know is refused. Every buyer shows the same face (``FACE_SEED``): the mock
registry compares pictures, and the load test measures the portal, not Dukcapil."""

import io
import random
from datetime import date, timedelta

from identity.idgen import make_kk, make_nik

FACE_SEED = 100


def camera_jpeg(width: int, height: int, seed: int, quality: int = 80) -> bytes:
    """A JPEG like a cheap phone camera's: a scene of gradients and shapes with sensor noise,
    a few hundred KB (random noise alone would not compress like a photo)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    red = Image.linear_gradient("L").rotate(rng.randint(0, 359)).resize((width, height))
    green = Image.linear_gradient("L").rotate(rng.randint(0, 359)).resize((width, height))
    blue = Image.radial_gradient("L").resize((width, height))
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x, y = rng.randint(0, width), rng.randint(0, height)
        draw.rectangle(
            [x, y, x + rng.randint(20, 400), y + rng.randint(20, 300)],
            fill=tuple(rng.randint(0, 255) for _ in range(3)),
        )
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    image = Image.blend(image, noise, 0.25)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def face_jpeg() -> bytes:
    """The face every load-test buyer shows (1600x1200)."""
    return camera_jpeg(1600, 1200, FACE_SEED)


def buyer(clerk_n: int, count: int, msisdn: str) -> dict:
    """A valid buyer under the rules in force: KTP with a NIK agreeing with birth date and sex,
    a KK with a real recording date. Unique per (clerk, count), so no ID goes over the cap."""
    rng = random.Random(clerk_n * 1_000_003 + count)
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(16_000))
    sex = rng.choice("MF")
    # Regency and district from the clerk, serial from the count: distinct NIKs per run.
    regency, district = f"{clerk_n // 99 % 99 + 1:02d}", f"{clerk_n % 99 + 1:02d}"
    return {
        "msisdn": "0" + msisdn[2:],
        "id_type": "ktp",
        "id_number": make_nik(
            birth_date=born, sex=sex, province="32", regency=regency, district=district,
            serial=count + 1,
        ),
        "kk_number": make_kk(
            recorded=date(2010, 1, 1) + timedelta(days=rng.randrange(5000)),
            region=f"32{regency}{district}", serial=count + 1,
        ),
        "full_name": rng.choice(
            ["Siti Nur'aini", "Ahmad Hidayat", "Sukarno", "Dewi Lestari-Putri", "Yusuf Al-Fatih"]
        ),
        "birth_place": rng.choice(["Bandung", "Bekasi", "Cirebon", "Bogor"]),
        "birth_date": born.isoformat(),
        "sex": sex,
        "address": f"Jl. Diponegoro No. {rng.randint(1, 200)}, RT 03/RW 07, Bandung",
        "nationality": "ID",
        "consent": "true",
        "document_checked": "true",
    }  # fmt: skip
