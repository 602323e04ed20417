"""The image checks of a remote identity verification (远程身份核验), run by the worker.

``analyse(data, part)`` takes the uploaded bytes of a selfie or of an identity document photo and
returns a ``Report``: every check with a reason a person can act on, a clean JPEG to keep in
place of the upload, and a perceptual hash (app/identity/fingerprints.py) that finds the same
image used again. It is pure and CPU-bound; the task runs it in a thread (docs/identity.md).

In order, stopping where later checks could not be judged:
1. What the file is, by its bytes (app/files/sniff.py): PDFs, other types, bombs, cut-off or
   damaged files are refused with sniff's own reasons. A JPEG — nearly every phone photo — is
   not passed through sniff's full decode, which would cost as much as decoding it at full size:
   the reduced decode below reads every byte of it all the same (libjpeg's scaled IDCT still
   parses each scan), so a cut-off JPEG or one that declares too many pixels is refused there,
   with the same reasons. Markup hidden in a JPEG is harmless here: only re-encoded pixels leave.
2. Decode within the pixel limit, a JPEG at the smallest DCT scale (1/2, 1/4, 1/8) that still
   gives the clean copy its size; apply the EXIF orientation; re-encode as a JPEG without any
   metadata (EXIF with GPS, ICC, XMP, comments) at most ``CLEAN_SIDE`` pixels long: enough for
   an officer to compare a face or read a card, and no more kept of a person than that.
3. On a grey copy at most ``ANALYSIS_SIDE`` long: size (of the original), exposure, sharpness,
   and for a selfie exactly one face, large enough and roughly centred (OpenCV's Haar frontal
   face cascade, which ships inside the opencv-python-headless wheel: nothing is downloaded).

Messages are English msgids, translated where they are shown with ``_(check.message)``. Nothing
here logs, and a Report holds no pixel of the person except ``clean_jpeg``.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import cv2
import imagehash
import numpy as np
from cv2.data import haarcascades  # the XML models inside the wheel
from PIL import ExifTags, Image

from app.core.i18n import N_
from app.files.sniff import JPEG, MAX_PIXELS, PDF, PILLOW_FORMATS, Refused, sniff


class Part(StrEnum):
    SELFIE = "selfie"
    DOCUMENT = "document"


# The shorter side of the photo as taken: below this a face or a card's text is too coarse for
# an officer to compare (a 640×480 camera frame is the smallest a phone still offers).
MIN_SIDE = 480
# The clean copy kept in place of the upload, and the grey copy the checks look at.
CLEAN_SIDE = 1000  # a 12 MP JPEG then decodes at 1/4 scale (draft mode): see docs/identity.md
ANALYSIS_SIDE = 480
JPEG_QUALITY = 90
# Variance of the Laplacian of the grey analysis copy. Calibrated on scikit-image's photographs
# (tests/identity/test_checks.py) at 480 pixels: sharp ones measure 150 to 820, the same
# blurred with a Gaussian of radius 2 measure 4 to 13.
SHARPNESS_MIN = 30.0
# Mean grey level bounds, and the share of pixels that may be clipped to black or white.
DARK_MEAN, BRIGHT_MEAN = 50.0, 210.0
CLIPPED_SHARE = 0.5
# Haar boxes run from the brows to the chin, narrower than the head: a face filling a selfie as
# asked measures 18 % of the width on the astronaut portrait, and a face under 15 % is too far.
FACE_MIN_WIDTH = 0.15
# Faces smaller than this share of the width are not searched for (they would fail the size
# rule anyway, and the cascade's smallest windows are where most of its time and false faces
# are); between the two, a face is found and "too small" says what to do.
FACE_SEARCH_WIDTH = 0.08
FACE_SIDE = 340  # the face detector's copy: half the windows of 480
# The first search, for faces of at least FACE_MIN_WIDTH only (faces()), on a smaller copy: the
# smallest face it looks for is then 42 pixels wide, well above the cascade's 24.
COARSE_SIDE = 280
# Scale steps of 1.25 between the cascade's window sizes, and how many overlapping detections
# make a face. Tuned on the test photographs (tests/identity/test_checks.py): 2 to 4 neighbours
# get every case right, 3 sits in the middle; 5 misses the face far away and one of two people.
# OpenCV's usual steps of 1.1 cost twice the time for the same verdicts. Below 340 pixels the
# face far away is lost; the first search finds the 12-megapixel portrait at 280 (with 1 to 4
# neighbours) but not at 260.
FACE_SCALE_STEP = 1.25
FACE_NEIGHBOURS = 3
# Where the face's centre may be: the middle 60 % across; down, 15–85 %, since a selfie held
# at arm's length puts the face above the middle.
CENTRE_X = (0.2, 0.8)
CENTRE_Y = (0.15, 0.85)


@dataclass(frozen=True, slots=True)
class Check:
    code: str  # safe to log
    ok: bool
    message: str  # English msgid: show it with _(message)

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "ok": self.ok, "message": self.message}


@dataclass(frozen=True, slots=True)
class Report:
    part: Part
    ok: bool
    checks: tuple[Check, ...]
    clean_jpeg: bytes | None  # upright, re-encoded, without metadata; None when refused
    width: int  # the photo as taken, upright; 0 when refused
    height: int
    phash: str | None  # 16 hex digits

    def as_json(self) -> dict[str, Any]:
        """For a JSON column: everything but the image."""
        return {
            "ok": self.ok,
            "checks": [check.as_json() for check in self.checks],
            "width": self.width,
            "height": self.height,
            "phash": self.phash,
        }

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)


# sniff's reasons by code, as msgids (sniff returns them already translated).
_REFUSED = {
    "empty": N_("The file is empty."),
    "type": N_("Only JPEG, PNG, HEIC and PDF files are accepted."),
    "damaged": N_("The file is damaged or incomplete. Please upload it again or re-scan it."),
    "pixels": N_("The image has too many pixels. Please upload a smaller photo or scan."),
    "script": N_("The file carries a script or web page and is refused."),
    "not_a_photo": N_(
        "A PDF is not a photo. Please take a photo with your phone's camera, or upload a JPEG, "
        "PNG or HEIC image."
    ),
}

TOO_SMALL = Check(
    "too_small",
    False,
    N_(
        "The photo is too small (its shorter side must be at least 480 pixels). Please take it "
        "again with the phone's main camera, without zooming."
    ),
)
SIZE_OK = Check("size", True, N_("The photo is large enough."))
TOO_DARK = Check(
    "too_dark",
    False,
    N_("The photo is too dark. Please take it again facing a window or a lamp."),
)
TOO_BRIGHT = Check(
    "too_bright",
    False,
    N_(
        "The photo is too bright. Please take it again out of direct sunlight or the flash's glare."
    ),
)
EXPOSURE_OK = Check("exposure", True, N_("The lighting is good."))
BLURRY = Check(
    "blurry",
    False,
    N_("The photo is blurred. Please hold the phone still, let it focus, and take it again."),
)
SHARP = Check("sharpness", True, N_("The photo is sharp."))
NO_FACE = Check(
    "no_face",
    False,
    N_(
        "No face was found. Please look straight at the camera, with your whole face in the "
        "frame and nothing covering it."
    ),
)
SEVERAL_FACES = Check(
    "several_faces",
    False,
    N_(
        "More than one face was found. Please take the photo alone, with no one else and no "
        "photo of a face behind you."
    ),
)
ONE_FACE = Check("face", True, N_("One face was found."))
FACE_TOO_SMALL = Check(
    "face_too_small",
    False,
    N_(
        "Your face is too small in the photo. Please hold the phone closer, so that your face "
        "fills the outline."
    ),
)
FACE_SIZE_OK = Check("face_size", True, N_("The face is close enough."))
FACE_OFF_CENTRE = Check(
    "face_off_centre",
    False,
    N_(
        "Your face is not in the middle of the photo. Please centre it in the outline and take "
        "it again."
    ),
)
FACE_CENTRED = Check("face_position", True, N_("The face is in the middle of the photo."))


def analyse(data: bytes, part: Part) -> Report:
    """Check an uploaded selfie or document photo; never raises on bad bytes."""
    try:
        picture, width, height = _decode(data)
    except Refused as refused:
        return _refused(part, refused.code)
    clean = _clean_jpeg(picture)
    grey = _grey(picture)
    checks = [SIZE_OK if min(width, height) >= MIN_SIDE else TOO_SMALL]
    exposure = _exposure(grey)
    checks.append(exposure)
    # In a dark or washed-out photo contrast is gone: it would measure as blurred and hide its
    # face, and the person has one thing to fix, the light.
    if exposure.ok:
        checks.append(SHARP if _sharpness(grey) >= SHARPNESS_MIN else BLURRY)
        if part is Part.SELFIE:
            checks.extend(_face_checks(grey))
    return Report(
        part=part,
        ok=all(check.ok for check in checks),
        checks=tuple(checks),
        clean_jpeg=clean,
        width=width,
        height=height,
        phash=str(imagehash.phash(Image.fromarray(grey))),
    )


def _refused(part: Part, code: str) -> Report:
    check = Check(code, False, _REFUSED.get(code, _REFUSED["damaged"]))
    return Report(part, False, (check,), None, 0, 0, None)


def _kind(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG  # refused in _decode if damaged or too large: see the module docstring
    kind = sniff(io.BytesIO(data)).content_type
    if kind == PDF:
        raise Refused("not_a_photo", _REFUSED["not_a_photo"])
    return kind


def _decode(data: bytes) -> tuple[Image.Image, int, int]:
    """The upright RGB picture, at most CLEAN_SIDE long, with the photo's own upright size.

    Raises ``Refused`` like sniff does for what cannot be read within the pixel limit."""
    kind = _kind(data)
    too_big = Refused("pixels", _REFUSED["pixels"])
    with warnings.catch_warnings():
        # Pillow warns past its own limit and raises past twice it: both are bombs here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[kind]]) as image:
                width, height = image.size
                if width < 1 or height < 1:
                    raise Refused("damaged", _REFUSED["damaged"])
                if width * height > MAX_PIXELS:
                    raise too_big
                if kind == JPEG:
                    scale = CLEAN_SIDE / max(width, height)
                    image.draft("RGB", (round(width * scale), round(height * scale)))
                image.load()
                orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
                rgb = image if image.mode == "RGB" else image.convert("RGB")
                pixels = _shrunk(np.asarray(rgb), CLEAN_SIDE)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise too_big from exc
        except Refused:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise Refused("damaged", _REFUSED["damaged"]) from exc
    # A fresh image of the pixels alone: nothing of the upload's metadata goes on (Pillow's
    # JPEG writer would copy a comment from ``info``), turned upright by hand since the tag
    # that says how is not carried over.
    upright = Image.fromarray(pixels)
    if turn := _ORIENTATION.get(orientation):
        upright = upright.transpose(turn)
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    return upright, width, height


# EXIF 2.32 §4.6.4 A, Orientation: how the stored pixels are turned for display (what
# ImageOps.exif_transpose does, applied here to the reduced copy rather than the full one).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_QUARTER_TURNS = {5, 6, 7, 8}


def _shrunk(pixels: np.ndarray, side: int) -> np.ndarray:
    """``pixels`` at most ``side`` long, by area averaging (no moiré, and fast)."""
    longest = max(pixels.shape[:2])
    if longest <= side:
        return pixels
    scale = side / longest
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def _clean_jpeg(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _grey(picture: Image.Image) -> np.ndarray:
    return _shrunk(cv2.cvtColor(np.asarray(picture), cv2.COLOR_RGB2GRAY), ANALYSIS_SIDE)


def _exposure(grey: np.ndarray) -> Check:
    mean = float(grey.mean())
    if mean < DARK_MEAN or float(np.mean(grey <= 10)) > CLIPPED_SHARE:
        return TOO_DARK
    if mean > BRIGHT_MEAN or float(np.mean(grey >= 245)) > CLIPPED_SHARE:
        return TOO_BRIGHT
    return EXPOSURE_OK


def _sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian: edges give large second derivatives, blur flattens them
    (Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy", ICPR 2000)."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


_local = threading.local()


def _cascade() -> cv2.CascadeClassifier:
    """The frontal face cascade, one per thread: the worker runs checks in several threads,
    and OpenCV does not promise that one classifier may detect in two at once."""
    cascade: cv2.CascadeClassifier | None = getattr(_local, "cascade", None)
    if cascade is None:
        path = f"{haarcascades}haarcascade_frontalface_default.xml"
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():  # a broken install, not a bad photo: let the job fail loudly
            raise RuntimeError(f"Haar cascade missing: {path}")
        _local.cascade = cascade
    return cascade


def faces(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces as (x, y, width, height) on the grey analysis copy.

    First only faces the size rule accepts (``FACE_MIN_WIDTH``), on a small copy: a selfie
    taken as asked is judged on those alone, at a quarter of the cost of searching for every
    face from 8 % up. Only when none is found are smaller faces looked for, so that a face
    too far away is told so rather than "no face". So a smaller face beside the applicant's
    (a poster across the room, a passer-by far behind) is not looked for; two people close
    enough to be a person's selfie are, and so is another face held up beside one's own."""
    return _search(grey, COARSE_SIDE, FACE_MIN_WIDTH) or _search(grey, FACE_SIDE, FACE_SEARCH_WIDTH)


def _search(grey: np.ndarray, side: int, share: float) -> list[tuple[int, int, int, int]]:
    """Faces of at least ``share`` of the width, searched for on a copy ``side`` long."""
    height, width = grey.shape
    if max(24, round(width * share)) > min(width, height):  # 24: the cascade's own window
        return []
    small = _shrunk(grey, side)
    ratio = width / small.shape[1]
    least = max(24, round(small.shape[1] * share))
    # No histogram equalisation: it made the cascade find faces in a spacesuit's folds.
    found = _cascade().detectMultiScale(
        small,
        scaleFactor=FACE_SCALE_STEP,
        minNeighbors=FACE_NEIGHBOURS,
        minSize=(least, least),
    )
    return [
        (round(x * ratio), round(y * ratio), round(w * ratio), round(h * ratio))
        for x, y, w, h in found
    ]


def _face_checks(grey: np.ndarray) -> list[Check]:
    found = faces(grey)
    if not found:
        return [NO_FACE]
    if len(found) > 1:
        return [SEVERAL_FACES]
    x, y, w, h = found[0]
    height, width = grey.shape
    centre_x, centre_y = (x + w / 2) / width, (y + h / 2) / height
    centred = CENTRE_X[0] <= centre_x <= CENTRE_X[1] and CENTRE_Y[0] <= centre_y <= CENTRE_Y[1]
    return [
        ONE_FACE,
        FACE_SIZE_OK if w / width >= FACE_MIN_WIDTH else FACE_TOO_SMALL,
        FACE_CENTRED if centred else FACE_OFF_CENTRE,
    ]
