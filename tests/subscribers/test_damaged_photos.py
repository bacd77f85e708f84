"""A JPEG damaged in the middle (its first half and an end marker) decodes without an error,
the missing part painted flat grey: refused in the request (a cheap 1/8-scale decode) and by
the worker's full decode, never stored half grey."""

import io

import pytest
from PIL import Image

from identity.photos import PhotoError, inspect_photo, normalize_photo

from .test_photos import encode, noisy_image


def half_and_end_marker(data: bytes) -> bytes:
    return data[: len(data) // 2] + b"\xff\xd9"


@pytest.fixture
def damaged():
    return half_and_end_marker(encode(noisy_image((800, 600)), "JPEG", quality=85))


def test_the_request_refuses_a_half_grey_jpeg(damaged):
    with pytest.raises(PhotoError) as exc:
        inspect_photo(io.BytesIO(damaged), thorough=False)
    assert exc.value.code == "photo_truncated"


def test_the_thorough_check_refuses_it_too(damaged):
    with pytest.raises(PhotoError) as exc:
        inspect_photo(io.BytesIO(damaged), thorough=True)
    assert exc.value.code == "photo_truncated"


def test_the_worker_refuses_it(damaged):
    with pytest.raises(PhotoError) as exc:
        normalize_photo(damaged)
    assert exc.value.code == "photo_truncated"


@pytest.mark.parametrize(
    "img",
    [
        noisy_image((800, 600)),
        Image.new("RGB", (400, 300), (200, 120, 40)),
        Image.new("L", (400, 300), 100),
        # A grey picture that is not flat: a real scene with grey in it.
        Image.linear_gradient("L").resize((400, 300)).convert("RGB"),
    ],
    ids=["noise", "flat-colour", "flat-grey-100", "gradient"],
)
def test_whole_pictures_pass(img):
    data = encode(img, "JPEG", quality=85)
    inspect_photo(io.BytesIO(data), thorough=False)
    inspect_photo(io.BytesIO(data), thorough=True)
    normalize_photo(data)
