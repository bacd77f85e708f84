"""Checking and cleaning the ID and face photos that outlet clerks upload.

The work is split in two stages so that heavy image work stays off the web request:

* :func:`inspect_photo` runs inside the registration request. It is cheap (a few
  milliseconds for a 4 MB phone JPEG): it checks the byte size, recognises the file
  type from its first bytes, reads the declared dimensions and checks that the data is
  complete, without ever decoding the picture at full size.
* :func:`normalize_photo` runs later in a background worker. It turns the upright
  picture into a plain, downscaled JPEG plus a thumbnail, without any metadata (EXIF,
  GPS position, ICC profile, XMP, comments).

Both stages raise :class:`PhotoError`, which carries a stable ``code`` and a plain
English ``message`` that can be shown to the clerk. This module has no Django imports.
"""

from __future__ import annotations

import io
import logging
import math
import os
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps

try:  # Colour management is optional: Pillow can be built without LittleCMS.
    from PIL import ImageCms
except ImportError:  # pragma: no cover - depends on how Pillow was built
    ImageCms = None

logger = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

# A progressive JPEG is decoded once per scan, even at 1/8 scale. Cameras write one
# scan (baseline) or about ten (progressive); a file with hundreds of scans is a
# "scan bomb" that would keep a web worker busy for seconds.
MAX_JPEG_SCANS = 100

_ACCEPTED_MESSAGE = "Upload a JPEG, PNG or WebP image."


class PhotoError(ValueError):
    """A photo was rejected.

    ``code`` is stable and meant for programs (form errors, translations, metrics);
    ``message`` is plain English for the shop clerk.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"PhotoError({self.code!r}, {self.message!r})"


@dataclass(frozen=True)
class PhotoCheck:
    """Result of :func:`inspect_photo`.

    ``width`` and ``height`` are the pixel dimensions stored in the file, before any
    EXIF rotation is applied.
    """

    format: str
    width: int
    height: int
    size_bytes: int
    content_type: str


@dataclass(frozen=True)
class ProcessedPhoto:
    """Result of :func:`normalize_photo`: a JPEG picture and a JPEG thumbnail."""

    content: bytes
    thumbnail: bytes
    width: int
    height: int
    content_type: str


# --------------------------------------------------------------------------- errors


def _too_large(max_bytes: int) -> PhotoError:
    limit_mb = max_bytes / (1024 * 1024)
    return PhotoError(
        "photo_too_large",
        f"The photo file is too big. The limit is {limit_mb:g} MB. "
        "Take the photo again at a lower camera resolution.",
    )


def _not_image() -> PhotoError:
    return PhotoError("photo_not_image", f"The file is not a photo. {_ACCEPTED_MESSAGE}")


def _wrong_format() -> PhotoError:
    return PhotoError(
        "photo_format", f"This type of picture file is not accepted. {_ACCEPTED_MESSAGE}"
    )


def _bomb() -> PhotoError:
    return PhotoError(
        "photo_bomb",
        "The picture is too large to process. "
        "Take the photo again with the normal phone camera settings.",
    )


def _too_small(min_side: int) -> PhotoError:
    return PhotoError(
        "photo_too_small",
        f"The photo is too small. Each side must be at least {min_side} pixels. "
        "Take the photo again with the phone camera.",
    )


def _truncated() -> PhotoError:
    return PhotoError(
        "photo_truncated",
        "The photo file is damaged or was not uploaded completely. Please upload it again.",
    )


# ------------------------------------------------------------------ file type sniffing


def _accepted_format(head: bytes) -> str | None:
    """Return the accepted format whose signature starts ``head``, if any."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def _other_image_format(head: bytes) -> str | None:
    """Recognise common image formats that we do not accept.

    Only the file signature is looked at, so that a text file that happens to start
    with ``BM`` is not mistaken for a bitmap.
    """
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    if head[4:8] == b"ftyp" and head[8:12] in _AVIF_BRANDS:
        return "AVIF"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG2000"
    if head.startswith((b"\x00\x00\x00\x0cJXL \r\n\x87\n", b"\xff\x0a")):
        return "JPEGXL"
    if head[:4] == b"8BPS":
        return "PSD"
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and head[4:6] != b"\x00\x00":
        return "ICO"
    return None


# -------------------------------------------------------------------------- decoding


@contextmanager
def _decoding() -> Iterator[None]:
    """Turn anything Pillow raises on untrusted bytes into a :class:`PhotoError`.

    Pillow's decompression bomb warning is raised as an error here only (the global
    warning filters are restored afterwards); ``ImageFile.LOAD_TRUNCATED_IMAGES`` is
    never touched.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except PhotoError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb() from exc
        except MemoryError:
            raise
        except Exception as exc:
            # Decoders fail on broken data with OSError, SyntaxError, ValueError,
            # struct.error, EOFError, IndexError... For an uploaded file all of these
            # mean the same thing to the clerk: the file is damaged.
            raise _truncated() from exc


def _open(data: bytes) -> tuple[str, Image.Image]:
    """Recognise ``data`` and open it lazily (no pixels are decoded yet).

    Returns the accepted format name and the opened image. Raises
    ``photo_not_image``, ``photo_format``, ``photo_bomb`` or ``photo_truncated``.
    """
    head = data[:32]
    fmt = _accepted_format(head)
    if fmt is None:
        raise _wrong_format() if _other_image_format(head) else _not_image()
    # FFDA (start of scan) cannot occur inside JPEG entropy-coded data (0xFF is
    # byte-stuffed), so counting it is a cheap upper bound on the number of scans.
    if fmt == "JPEG" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise _bomb()
    with _decoding():
        # Only the one matching decoder ever sees the bytes.
        return fmt, Image.open(io.BytesIO(data), formats=[fmt])


def _stream_size(fileobj: IO[bytes]) -> int:
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    return size


# A phone camera's full resolution (48, 50, 64 MP) is a JPEG, which is only ever decoded at a
# reduced scale here (1/8 for the check, the stored size's scale in the worker): up to Pillow's
# own decompression-bomb threshold. Other formats are decoded whole: 40 MP at most.
MAX_JPEG_PIXELS = Image.MAX_IMAGE_PIXELS


def inspect_photo(
    fileobj: IO[bytes],
    *,
    max_bytes: int = 8 * 1024 * 1024,
    max_pixels: int = 40_000_000,
    max_jpeg_pixels: int = MAX_JPEG_PIXELS,
    min_side: int = 200,
    thorough: bool = True,
) -> PhotoCheck:
    """Check an uploaded photo cheaply, on the request path.

    With ``thorough=False`` (what the registration request uses, to keep two multi-MB photos
    within the latency budget) completeness is checked structurally instead of by decoding: a
    JPEG must end with its end-of-image marker after its last scan, a WebP's RIFF size must
    match the bytes received, a PNG's chunk checksums are verified (cheap). That catches the
    common fault — an upload cut off by a weak network — in a few ms; damage in the middle of
    the data is caught by ``normalize_photo`` in the worker, which marks the photos failed.

    ``fileobj`` is any seekable binary file object (a Django ``UploadedFile``, an open
    file, ``io.BytesIO``). It is rewound before reading and again afterwards, so it can
    be saved as is.

    The checks run from cheapest to most expensive: byte size (before anything is
    decoded), file signature, declared dimensions, then completeness of the data. A
    JPEG is fully decoded at 1/8 scale, a PNG has its chunk checksums verified without
    decoding pixels, and a WebP is decoded.

    Returns a :class:`PhotoCheck`. Raises :class:`PhotoError` with one of the codes
    ``photo_too_large``, ``photo_not_image``, ``photo_format``, ``photo_bomb``,
    ``photo_too_small`` or ``photo_truncated``.
    """
    fileobj.seek(0)
    try:
        if _stream_size(fileobj) > max_bytes:
            raise _too_large(max_bytes)
        # Never read more than the limit, even if the stream lied about its size.
        data = fileobj.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
    finally:
        fileobj.seek(0)

    fmt, img = _open(data)
    with img, _decoding():
        width, height = img.size
        if width * height > (max_jpeg_pixels if fmt == "JPEG" else max_pixels):
            raise _bomb()
        if min(width, height) < min_side:
            raise _too_small(min_side)
        if not thorough and fmt != "PNG":
            _check_structure(fmt, data)
        if fmt == "JPEG":
            # A 1/8-scale decode reads only the DC coefficients: a few ms even for a phone
            # photo, and it shows a JPEG damaged in the middle (grey to its end).
            img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            img.load()
            _check_not_grey_filled(img, width)
        elif fmt == "PNG":
            img.verify()
        else:
            img.load()

    return PhotoCheck(
        format=fmt,
        width=width,
        height=height,
        size_bytes=len(data),
        content_type=CONTENT_TYPES[fmt],
    )


# libjpeg paints the part of a picture it has no data for — a JPEG cut short and given an end
# marker, or one whose scan hits a marker early — flat mid-grey (every coefficient 0: Y, Cb and
# Cr of 128) and reports only a warning Pillow does not pass on. A photograph whose whole bottom
# band is that exact value does not happen; that band is the sign of damage.
_GREY_FILL = 128


def _check_not_grey_filled(img: Image.Image, stored_width: int) -> None:
    """Refuse a decoded JPEG whose bottom band (one MCU row, 16 stored pixels, at the decoded
    scale) is flat mid-grey in every channel."""
    if img.mode not in ("RGB", "L"):
        return
    scale = max(1, round(stored_width / max(1, img.width)))
    band = max(1, min(img.height, 16 // scale))
    bottom = img.crop((0, img.height - band, img.width, img.height))
    extrema = bottom.getextrema()
    if img.mode == "L":
        extrema = (extrema,)
    if all(low == high == _GREY_FILL for low, high in extrema):
        raise _truncated()


def _check_structure(fmt: str, data: bytes) -> None:
    """Cheap completeness check without decoding (see ``inspect_photo(thorough=False)``)."""
    if fmt == "JPEG":
        last_scan = data.rfind(b"\xff\xda")
        if last_scan < 0 or data.rfind(b"\xff\xd9") < last_scan:
            raise _truncated()
    elif fmt == "WEBP":
        declared = int.from_bytes(data[4:8], "little") + 8
        if len(data) < declared:
            raise _truncated()


# ---------------------------------------------------------------------- normalising


def _draft_size(size: tuple[int, int], max_side: int) -> tuple[int, int] | None:
    """Smallest size the JPEG decoder may scale down to while staying >= max_side."""
    scale = max_side / max(size)
    if scale >= 1:
        return None
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info


def _to_srgb(img: Image.Image) -> Image.Image:
    """Return an RGB copy of ``img`` in sRGB, with transparency flattened onto white.

    When the file carries an ICC profile (wide-gamut phones, CMYK scans), the colours
    are converted to sRGB so that dropping the profile does not change how they look.
    """
    icc_profile = img.info.get("icc_profile")
    if img.mode.startswith("I;16"):
        # 16-bit greyscale PNG: Pillow would clip values above 255 to white, so scale.
        img = img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        img = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img.alpha_composite(rgba)
    if img.mode not in ("RGB", "CMYK"):
        img = img.convert("RGB")
    if icc_profile and ImageCms is not None:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            srgb = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(img, source, srgb, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            logger.info("Ignoring an unusable ICC profile in an uploaded photo")
    return img.convert("RGB")


def _encode_jpeg(img: Image.Image, quality: int) -> bytes:
    # Pillow falls back to img.info for some JPEG metadata (e.g. the comment), so start
    # from an empty info dict and pass no exif/icc_profile/xmp parameters at all.
    img.info = {}
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def normalize_photo(
    data: bytes, *, max_side: int = 1600, thumb_side: int = 320, quality: int = 85
) -> ProcessedPhoto:
    """Produce the stored version of a photo: upright, sRGB, downscaled, metadata-free.

    Meant for a background worker, not the request path. The EXIF orientation is
    applied so the picture stays upright, the picture is converted to RGB and scaled
    down so that its longer side is at most ``max_side`` (JPEGs are decoded directly at
    a reduced scale), then re-encoded as JPEG without EXIF, GPS, ICC, XMP or comments.
    A thumbnail with longer side at most ``thumb_side`` is made the same way.

    The result depends only on the input, and running it again on its own output is
    safe. Raises :class:`PhotoError` if the data is not a usable photo.
    """
    if max_side < 1 or thumb_side < 1:
        raise ValueError("max_side and thumb_side must be positive")
    if not 1 <= quality <= 100:
        raise ValueError("quality must be between 1 and 100")

    fmt, img = _open(data)
    with img, _decoding():
        stored_width = img.width
        if fmt == "JPEG" and (target := _draft_size(img.size, max_side)):
            img.draft("RGB", target)
        img.load()
        if fmt == "JPEG":
            _check_not_grey_filled(img, stored_width)
        try:
            upright = ImageOps.exif_transpose(img)
        except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error):
            # Broken EXIF must not lose a registration: keep the picture as stored.
            logger.warning("Could not apply EXIF orientation to an uploaded photo")
            upright = img.copy()
        picture = _to_srgb(upright)

    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    thumb = picture.copy()
    thumb.thumbnail((thumb_side, thumb_side), Image.Resampling.LANCZOS)

    return ProcessedPhoto(
        content=_encode_jpeg(picture, quality),
        thumbnail=_encode_jpeg(thumb, quality),
        width=picture.width,
        height=picture.height,
        content_type="image/jpeg",
    )
