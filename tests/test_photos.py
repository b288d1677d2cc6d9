"""Photo evidence: what is kept of a photo, where it goes, the limits, and what a tip's photo keeps (nothing)."""

from __future__ import annotations

import io
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from handlers import photos
from tests.conftest import Clock

HAZARD = "王家沟村东头老窑洞裂了好宽的缝，下雨怕塌"
TIP = "举报 后沟那个煤窑晚上偷偷开采，别说是我说的"
TAKEN = "2026:06:09 17:42:05"


def jpeg_with_gps(
    color: tuple[int, int, int] = (180, 40, 40), size: tuple[int, int] = (64, 48), *, orientation: int = 1
) -> bytes:
    """A JPEG as a phone writes it: capture time, GPS position, maker, model, orientation, a comment."""
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"  # Make
    exif[0x0110] = "ELS-AN00"  # Model
    exif[0x0131] = "ELS-AN00 4.0.0"  # Software
    exif[0x0112] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = TAKEN
    exif.get_ifd(ExifTags.IFD.Exif)[0xA435] = "LENS-SERIAL-123"  # LensSerialNumber
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2] = "N", (38.0, 1.0, 12.5)
    gps[3], gps[4] = "E", (111.0, 2.0, 30.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), comment=b"shot at Wang's house")
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (20, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 120, 0, 128)).save(out, "PNG")
    return out.getvalue()


def metadata(
    data: bytes,
) -> tuple[dict[int, object], dict[int, object], dict[int, object], dict[str, object]]:
    img = Image.open(io.BytesIO(data))
    exif = img.getexif()
    return (
        dict(exif),
        dict(exif.get_ifd(ExifTags.IFD.Exif)),
        dict(exif.get_ifd(ExifTags.IFD.GPSInfo)),
        dict(img.info),
    )


# --- what is kept of a photo ---------------------------------------------------------------------------


def test_a_reports_photo_keeps_only_its_capture_time_never_gps_or_the_phone() -> None:
    raw = jpeg_with_gps()
    assert metadata(raw)[2]  # the test photo really has a position
    kept = photos.prepare(raw, keep_time=True)
    top, exif, gps, info = metadata(kept.data)
    assert exif == {0x9003: TAKEN}
    assert gps == {}
    assert set(top) <= {ExifTags.IFD.Exif.value}  # no maker, model, software, orientation, GPS pointer
    assert "comment" not in info and "icc_profile" not in info
    for trace in (b"HUAWEI", b"ELS-AN00", b"LENS-SERIAL", b"Wang"):
        assert trace not in kept.data


def test_a_tips_photo_keeps_no_metadata_at_all() -> None:
    kept = photos.prepare(jpeg_with_gps(), keep_time=False)
    top, exif, gps, info = metadata(kept.data)
    assert top == {} and exif == {} and gps == {}
    assert "exif" not in info and "comment" not in info
    assert TAKEN.encode() not in kept.data


def test_a_sideways_photo_is_stored_upright_once_the_orientation_tag_is_gone() -> None:
    kept = photos.prepare(jpeg_with_gps(size=(64, 48), orientation=6), keep_time=True)
    assert Image.open(io.BytesIO(kept.data)).size == (48, 64)


def test_other_formats_become_plain_jpegs_and_huge_ones_are_scaled_down() -> None:
    kept = photos.prepare(png_bytes(), keep_time=True)
    img = Image.open(io.BytesIO(kept.data))
    assert img.format == "JPEG" and img.mode == "RGB"
    out = io.BytesIO()
    Image.new("RGB", (5000, 100), (1, 2, 3)).save(out, "JPEG")
    assert (
        max(Image.open(io.BytesIO(photos.prepare(out.getvalue(), keep_time=True).data)).size)
        == photos.MAX_SIDE
    )


@pytest.mark.parametrize(
    "raw",
    [b"", b"not an image at all", jpeg_with_gps()[:200], b"%PDF-1.4\n" + b"0" * 100],
    ids=["empty", "text", "truncated", "pdf"],
)
def test_bad_images_are_refused(raw: bytes) -> None:
    with pytest.raises(photos.PhotoError) as err:
        photos.prepare(raw, keep_time=True)
    assert err.value.reason == "bad"


def test_oversized_and_decompression_bomb_images_are_refused() -> None:
    with pytest.raises(photos.PhotoError) as err:
        photos.prepare(b"\xff" * (photos.MAX_IMAGE_BYTES + 1), keep_time=True)
    assert err.value.reason == "too_large"
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # tiny file, 100 million pixels
    assert len(out.getvalue()) < photos.MAX_IMAGE_BYTES
    with pytest.raises(photos.PhotoError) as err:
        photos.prepare(out.getvalue(), keep_time=True)
    assert err.value.reason == "bad"


def test_the_store_is_content_addressed_private_and_keeps_identical_photos_once(tmp_path: Path) -> None:
    store = photos.PhotoStore(tmp_path / "photos")
    one = photos.prepare(jpeg_with_gps(), keep_time=True)
    same = photos.prepare(jpeg_with_gps(), keep_time=True)
    assert one.sha256 == same.sha256
    path = store.save(one)
    assert store.save(same) == path
    assert path == tmp_path / "photos" / one.sha256[:2] / f"{one.sha256}.jpg"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "photos").stat().st_mode) == 0o700
    assert store.read(one.sha256) == one.data
    assert store.read("0" * 64) is None


def test_held_photos_wait_ten_minutes_per_chat_and_are_keyed_by_a_keyed_hash(clock: Clock) -> None:
    held = photos.HeldPhotos(b"secret")
    photo = photos.prepare(jpeg_with_gps(), keep_time=False)
    now = clock.now
    assert held.hold("telegram", "7034418823", photo, now)
    assert held.hold("telegram", "7034418823", photo, now)  # the same photo again is kept once
    assert held.count("telegram", "7034418823", now) == 1
    assert held.count("telegram", "other", now) == 0
    assert all("7034418823" not in key for key in held._items)
    assert held.take("telegram", "7034418823", now + timedelta(minutes=11)) == []
    assert held.hold("telegram", "7034418823", photo, now)
    assert held.take("telegram", "7034418823", now + timedelta(minutes=9)) == [photo]
    assert held.take("telegram", "7034418823", now) == []


def test_a_chat_holds_at_most_nine_photos(clock: Clock) -> None:
    held = photos.HeldPhotos(b"secret")
    for i in range(photos.HOLD_PER_CHAT):
        assert held.hold(
            "wechaty", "c", photos.prepare(jpeg_with_gps((i * 25, 90, 0)), keep_time=False), clock.now
        )
    assert not held.hold(
        "wechaty", "c", photos.prepare(jpeg_with_gps((250, 250, 0)), keep_time=False), clock.now
    )
    assert held.purge(clock.now + timedelta(hours=1)) == photos.HOLD_PER_CHAT and len(held) == 0
