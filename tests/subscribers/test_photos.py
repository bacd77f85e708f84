"""Tests for identity.photos, using real images made by Pillow inside the tests."""

import contextlib
import io
import resource
import struct
import warnings
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile

from identity.photos import (
    ACCEPTED_FORMATS,
    MAX_JPEG_SCANS,
    PhotoCheck,
    PhotoError,
    ProcessedPhoto,
    inspect_photo,
    normalize_photo,
)

RED = (220, 20, 20)
BLUE = (20, 20, 220)


# ----------------------------------------------------------------------------- helpers


def noisy_image(size=(640, 480), mode="RGB"):
    """A photo-like picture: noise compresses badly, like a real camera picture."""
    return Image.effect_noise(size, 60).convert(mode)


def encode(img, fmt, **params):
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    return buffer.getvalue()


def upload(data, name="photo.jpg"):
    """A file-like object as a browser upload would give it (name does not matter)."""
    fileobj = io.BytesIO(data)
    fileobj.name = name
    return fileobj


def error_code(data, **kwargs):
    with pytest.raises(PhotoError) as excinfo:
        inspect_photo(upload(data), **kwargs)
    assert excinfo.value.message
    assert str(excinfo.value) == excinfo.value.message
    return excinfo.value.code


def png_declaring_size(width, height):
    """A real 1x1 PNG whose IHDR chunk is patched to claim width x height (valid CRC)."""
    png = encode(Image.new("RGB", (1, 1)), "PNG")
    # Layout: signature (8) | length (4) | b"IHDR" (4) | data (13) | CRC (4)
    ihdr = struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return png[:16] + ihdr + crc + png[33:]


def two_colour_image(size):
    """Left half red, right half blue."""
    width, height = size
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, width // 2, height))
    return img


def close_to(pixel, colour, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


# ------------------------------------------------------------------------ inspect: ok


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")],
)
def test_accepts_real_photos(fmt, content_type):
    data = encode(noisy_image((640, 480)), fmt)
    fileobj = upload(data)
    fileobj.seek(17)  # the function must rewind by itself

    check = inspect_photo(fileobj)

    assert check == PhotoCheck(
        format=fmt, width=640, height=480, size_bytes=len(data), content_type=content_type
    )
    assert fmt in ACCEPTED_FORMATS
    assert fileobj.tell() == 0


def test_accepts_a_file_on_disk(tmp_path):
    path = tmp_path / "ktp.jpg"
    path.write_bytes(encode(noisy_image((300, 500)), "JPEG"))
    with path.open("rb") as fileobj:
        check = inspect_photo(fileobj)
        assert fileobj.tell() == 0
    assert (check.width, check.height) == (300, 500)


def test_accepts_a_django_upload():
    data = encode(noisy_image((400, 300)), "WEBP")
    upload_ = SimpleUploadedFile("ktp.jpg", data, content_type="image/jpeg")
    upload_.seek(10)
    check = inspect_photo(upload_)
    assert (check.format, check.size_bytes, check.content_type) == (
        "WEBP",
        len(data),
        "image/webp",
    )
    assert upload_.tell() == 0
    assert upload_.read() == data


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGB"])
def test_accepts_jpeg_colour_modes(mode):
    check = inspect_photo(upload(encode(noisy_image(mode=mode), "JPEG")))
    assert check.format == "JPEG"


def test_accepts_progressive_jpeg():
    data = encode(noisy_image(), "JPEG", progressive=True)
    assert inspect_photo(upload(data)).format == "JPEG"


def test_accepts_multi_picture_jpeg_from_phone_cameras():
    data = encode(noisy_image(), "MPO", save_all=True, append_images=[noisy_image()])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    check = inspect_photo(upload(data))
    assert (check.format, check.content_type) == ("JPEG", "image/jpeg")


def test_accepts_png_with_transparency_and_16_bit_png():
    assert inspect_photo(upload(encode(noisy_image(mode="RGBA"), "PNG"))).format == "PNG"
    grey16 = Image.new("I;16", (300, 300), 40000)
    assert inspect_photo(upload(encode(grey16, "PNG"))).format == "PNG"


def test_smallest_accepted_side_is_min_side():
    assert inspect_photo(upload(encode(noisy_image((200, 200)), "PNG"))).width == 200


# ------------------------------------------------------------------- inspect: refused


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"Nomor KTP: 3171234567890001\nNama: Budi\n", id="text"),
        pytest.param(
            b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script>",
            id="html-script",
        ),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="500" '
            b'height="500"><script>alert(1)</script><rect width="500" height="500"/></svg>',
            id="svg",
        ),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"/>', id="svg-no-prolog"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", id="pdf"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 100, id="zip"),
        pytest.param(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, id="mp4-video"),
        pytest.param(b"BMW service report", id="text-starting-with-BM"),
        pytest.param(b"", id="empty"),
    ],
)
def test_rejects_files_that_are_not_images(data):
    assert error_code(data) == "photo_not_image"


def test_not_image_message_is_plain_english():
    with pytest.raises(PhotoError) as excinfo:
        inspect_photo(upload(b"hello", name="ktp.jpg"))
    assert excinfo.value.message == "The file is not a photo. Upload a JPEG, PNG or WebP image."


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO"])
def test_rejects_other_image_formats(fmt):
    assert error_code(encode(noisy_image((256, 256)), fmt)) == "photo_format"


def test_rejects_heic_from_iphones():
    # Pillow cannot write HEIC; the ISO-BMFF header is all that is looked at.
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    assert error_code(heic) == "photo_format"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_rejects_truncated_images(fmt):
    data = encode(noisy_image(), fmt)
    assert error_code(data[: len(data) // 2]) == "photo_truncated"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_rejects_images_missing_only_their_last_bytes(fmt):
    data = encode(noisy_image(), fmt)
    assert error_code(data[:-64]) == "photo_truncated"


def test_rejects_png_with_corrupt_chunk():
    data = bytearray(encode(noisy_image(), "PNG"))
    data[len(data) // 2] ^= 0xFF  # flip a byte inside the IDAT data: CRC mismatch
    assert error_code(bytes(data)) == "photo_truncated"


def test_rejects_bare_signature():
    assert error_code(b"\x89PNG\r\n\x1a\n") == "photo_truncated"
    assert error_code(b"\xff\xd8\xff\xe0") == "photo_truncated"


def test_never_loads_truncated_images_globally():
    data = encode(noisy_image(), "JPEG")
    error_code(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_rejects_decompression_bomb_without_allocating_it():
    bomb = png_declaring_size(50_000, 50_000)  # 2.5 gigapixels, 7.5 GB as RGB
    assert len(bomb) < 100
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    assert error_code(bomb) == "photo_bomb"
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert peak_after - peak_before < 50 * 1024


@pytest.mark.parametrize(
    "size",
    [
        pytest.param((8_000, 6_000), id="above-max-pixels"),
        pytest.param((12_000, 10_000), id="pillow-bomb-warning"),
        pytest.param((16_383, 16_383), id="pillow-bomb-error"),
    ],
)
def test_rejects_declared_sizes_above_max_pixels(size):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert error_code(png_declaring_size(*size)) == "photo_bomb"
    # Pillow's DecompressionBombWarning is turned into the error, not leaked.
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert not [
        f for f in warnings.filters if f[0] == "error" and f[2] is Image.DecompressionBombWarning
    ]


def test_max_pixels_is_configurable():
    data = encode(noisy_image((640, 480)), "PNG")
    assert error_code(data, max_pixels=640 * 480 - 1) == "photo_bomb"
    assert inspect_photo(upload(data), max_pixels=640 * 480).width == 640
    jpeg = encode(noisy_image((640, 480)), "JPEG")
    assert error_code(jpeg, max_jpeg_pixels=640 * 480 - 1) == "photo_bomb"


def test_a_phone_cameras_full_resolution_jpeg_is_accepted_and_stored_small():
    """48 MP (8000 × 6000), what a phone takes at full resolution: a JPEG, only ever decoded at
    a reduced scale — accepted, and stored at the usual size."""
    data = encode(Image.new("RGB", (8_000, 6_000), (120, 90, 60)), "JPEG", quality=70)
    check = inspect_photo(upload(data), max_bytes=len(data) + 1)
    assert (check.format, check.width, check.height) == ("JPEG", 8_000, 6_000)
    stored = normalize_photo(data)
    assert max(stored.width, stored.height) == 1600


def test_rejects_jpeg_scan_bomb():
    data = encode(noisy_image(), "JPEG", progressive=True)
    assert inspect_photo(upload(data)).format == "JPEG"
    bomb = data[:-2] + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" * (MAX_JPEG_SCANS + 1)
    assert error_code(bomb) == "photo_bomb"


class CountingReads(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_too_large_is_decided_without_reading_the_file():
    fileobj = CountingReads(b"\xff\xd8\xff" + b"\x00" * (8 * 1024 * 1024))
    with pytest.raises(PhotoError) as excinfo:
        inspect_photo(fileobj)
    assert excinfo.value.code == "photo_too_large"
    assert fileobj.bytes_read == 0
    assert fileobj.tell() == 0


def test_rejects_too_many_bytes_before_decoding():
    # Not even an image: the size check must come first.
    assert error_code(b"\x00" * (8 * 1024 * 1024 + 1)) == "photo_too_large"
    data = encode(noisy_image(), "JPEG")
    assert error_code(data, max_bytes=len(data) - 1) == "photo_too_large"
    assert inspect_photo(upload(data), max_bytes=len(data)).size_bytes == len(data)


def test_too_large_message_names_the_limit():
    with pytest.raises(PhotoError) as excinfo:
        inspect_photo(upload(b"x" * 100), max_bytes=50)
    assert excinfo.value.code == "photo_too_large"
    with pytest.raises(PhotoError) as excinfo:
        inspect_photo(upload(b"\x00" * (8 * 1024 * 1024 + 1)))
    assert "8 MB" in excinfo.value.message


@pytest.mark.parametrize("size", [(199, 800), (800, 199), (32, 32)])
def test_rejects_tiny_images(size):
    assert error_code(encode(noisy_image(size), "JPEG")) == "photo_too_small"


def test_rewinds_after_an_error():
    fileobj = upload(b"not a photo at all")
    with pytest.raises(PhotoError):
        inspect_photo(fileobj)
    assert fileobj.tell() == 0


def test_photo_error_is_a_value_error():
    error = PhotoError("photo_format", "Nope.")
    assert isinstance(error, ValueError)
    assert (error.code, error.message) == ("photo_format", "Nope.")


# -------------------------------------------------------------------------- normalize


def jpeg_with_gps_and_orientation(size=(2400, 1200), *, with_icc=True):
    """A landscape-stored camera JPEG with GPS, Orientation=6, ICC, XMP and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "Cheap Phone Co."  # Make
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x8825] = {  # GPSInfo
        1: "S",
        2: (6.0, 10.0, 30.0),
        3: "E",
        4: (106.0, 49.0, 0.0),
    }
    params = {
        "exif": exif,
        "xmp": b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>',
        "comment": b"outlet 42",
        "quality": 95,
    }
    if with_icc:
        params["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(two_colour_image(size), "JPEG", **params)


@pytest.mark.parametrize("with_icc", [True, False], ids=["icc", "no-icc"])
def test_normalize_strips_metadata_and_keeps_photo_upright(with_icc):
    source = jpeg_with_gps_and_orientation(with_icc=with_icc)
    original = Image.open(io.BytesIO(source))
    assert original.getexif().get_ifd(0x8825)  # the test input really has GPS
    assert {"exif", "xmp", "comment"} <= set(original.info)
    assert ("icc_profile" in original.info) is with_icc

    result = normalize_photo(source)

    assert isinstance(result, ProcessedPhoto)
    assert result.content_type == "image/jpeg"
    photo = Image.open(io.BytesIO(result.content))
    assert photo.format == "JPEG"
    assert photo.mode == "RGB"
    assert not photo.getexif()
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(photo.info)
    assert b"Exif\x00\x00" not in result.content
    assert b"ICC_PROFILE" not in result.content
    assert b"xmpmeta" not in result.content
    assert b"outlet 42" not in result.content

    # Stored 2400x1200 with Orientation=6 displays as 1200x2400, scaled to 800x1600.
    assert photo.size == (800, 1600) == (result.width, result.height)
    # The stored left half (red) becomes the top after a clockwise quarter turn.
    assert close_to(photo.getpixel((400, 100)), RED)
    assert close_to(photo.getpixel((400, 1500)), BLUE)

    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert thumb.format == "JPEG"
    assert thumb.size == (160, 320)
    assert not thumb.getexif()
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(thumb.info)
    assert close_to(thumb.getpixel((80, 20)), RED)


def test_normalize_is_deterministic_and_safe_to_run_twice():
    source = jpeg_with_gps_and_orientation()
    first = normalize_photo(source)
    assert normalize_photo(source) == first

    second = normalize_photo(first.content)
    photo = Image.open(io.BytesIO(second.content))
    photo.load()
    assert photo.size == (first.width, first.height) == (second.width, second.height)
    assert close_to(photo.getpixel((400, 100)), RED)
    assert inspect_photo(upload(second.content)).format == "JPEG"


@pytest.mark.parametrize("fmt", ACCEPTED_FORMATS)
def test_normalize_does_not_enlarge_small_photos(fmt):
    result = normalize_photo(encode(noisy_image((640, 480)), fmt))
    assert (result.width, result.height) == (640, 480)
    assert Image.open(io.BytesIO(result.content)).size == (640, 480)
    assert Image.open(io.BytesIO(result.thumbnail)).size == (320, 240)


def test_normalize_scales_large_jpeg_with_draft():
    result = normalize_photo(encode(noisy_image((4000, 3000)), "JPEG"))
    assert (result.width, result.height) == (1600, 1200)
    assert Image.open(io.BytesIO(result.thumbnail)).size == (320, 240)


def test_normalize_respects_custom_sizes_and_quality():
    data = encode(noisy_image((1000, 500)), "PNG")
    result = normalize_photo(data, max_side=400, thumb_side=100, quality=60)
    assert (result.width, result.height) == (400, 200)
    assert Image.open(io.BytesIO(result.thumbnail)).size == (100, 50)


def test_normalize_flattens_transparency_onto_white():
    data = encode(Image.new("RGBA", (300, 300), (255, 0, 0, 0)), "PNG")
    photo = Image.open(io.BytesIO(normalize_photo(data).content))
    assert photo.mode == "RGB"
    assert close_to(photo.getpixel((150, 150)), (255, 255, 255), tolerance=2)


@pytest.mark.parametrize(
    ("img", "expected"),
    [
        (Image.new("CMYK", (300, 300), (0, 255, 0, 0)), (255, 0, 255)),
        (Image.new("L", (300, 300), 100), (100, 100, 100)),
        (Image.new("I;16", (300, 300), 40000), (156, 156, 156)),
        (Image.new("P", (300, 300), 0), (0, 0, 0)),
    ],
    ids=["cmyk-jpeg", "grey", "grey-16-bit", "palette"],
)
def test_normalize_converts_colour_modes_to_rgb(img, expected):
    fmt = "JPEG" if img.mode == "CMYK" else "PNG"
    photo = Image.open(io.BytesIO(normalize_photo(encode(img, fmt)).content))
    assert photo.mode == "RGB"
    assert close_to(photo.getpixel((150, 150)), expected, tolerance=3)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<html>hello</html>", "photo_not_image"),
        (encode(Image.new("RGB", (300, 300)), "GIF"), "photo_format"),
        (encode(noisy_image(), "JPEG")[:5000], "photo_truncated"),
        (png_declaring_size(50_000, 50_000), "photo_bomb"),
    ],
    ids=["html", "gif", "truncated-jpeg", "bomb"],
)
def test_normalize_raises_photo_error_for_bad_data(data, code):
    with pytest.raises(PhotoError) as excinfo:
        normalize_photo(data)
    assert excinfo.value.code == code


# ------------------------------------------------------------------------- fuzzing

SMALL_SAMPLES = [
    encode(noisy_image((64, 48)), "JPEG"),
    encode(noisy_image((64, 48)), "JPEG", progressive=True),
    encode(noisy_image((64, 48), mode="RGBA"), "PNG"),
    encode(noisy_image((64, 48)), "WEBP"),
    encode(noisy_image((64, 48)), "WEBP", lossless=True),
    jpeg_with_gps_and_orientation((64, 48)),
]


@st.composite
def damaged_images(draw):
    """Valid small images with a few bytes changed and maybe cut short."""
    data = bytearray(draw(st.sampled_from(SMALL_SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_photo_error(data):
    with contextlib.suppress(PhotoError):
        inspect_photo(upload(data), min_side=1)


# Pillow warns about the broken EXIF it skips: expected of these inputs, not a defect.
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_images())
def test_damaged_images_only_raise_photo_error(data):
    try:
        check = inspect_photo(upload(data), min_side=1)
    except PhotoError:
        return
    assert check.format in ACCEPTED_FORMATS
    # Whatever the request path lets through, the worker must handle without crashing.
    with contextlib.suppress(PhotoError):
        normalize_photo(data)


# --- the request path's structural check (thorough=False) ------------------------------------
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
def test_quick_check_accepts_whole_images_and_refuses_cut_off_uploads(fmt):
    whole = io.BytesIO()
    Image.effect_noise((640, 480), 60).convert("RGB").save(whole, fmt)
    data = whole.getvalue()
    check = inspect_photo(io.BytesIO(data), thorough=False)
    assert check.format == fmt
    with pytest.raises(PhotoError) as exc:
        inspect_photo(io.BytesIO(data[: len(data) * 2 // 3]), thorough=False)
    assert exc.value.code == "photo_truncated"
