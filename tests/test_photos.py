"""Photo evidence: what is kept of a photo, where it goes, the limits, and what a tip's photo keeps (nothing)."""

from __future__ import annotations

import dataclasses
import io
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from bot.app import Database
from handlers import photos
from handlers.classifier import Classifier
from handlers.messages import IncomingMessage
from handlers.profile import Profile
from handlers.router import Router
from handlers.texts import Texts
from storage.models import Attachment, Report, Tip
from storage.officials import add_official
from tests.conftest import Clock, make_core
from tests.helpers import group_msg, private_msg

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


# --- where a photo goes, through the router ------------------------------------------------------------

OFFICIAL_ID = "off1"


@pytest.fixture
def desk(
    database: Database, classifier: Classifier, texts: Texts, profile: Profile, clock: Clock, tmp_path: Path
):
    """A router whose core keeps photos under ``tmp_path``, with one station official."""
    core = make_core(database, classifier, texts, profile, clock)
    core.data_dir = tmp_path
    with database.sessions.begin() as s:
        add_official(s, "telegram", OFFICIAL_ID, "李秀英", role="station")
    return Router(core)


def photo_msg(
    text: str, raw: bytes | None = None, *, private: bool = False, sender: str | None = None, **fields: object
) -> IncomingMessage:
    """A message carrying a photo (by default a phone's JPEG with GPS), captioned ``text``."""
    who = {"sender": sender} if sender else {}
    base = private_msg(text, **who) if private else group_msg(text, **who)
    return dataclasses.replace(base, photo=raw if raw is not None else jpeg_with_gps(), **fields)


def rows(router: Router, **where: object) -> list[Attachment]:
    with router.core.sessions() as s:
        found = [a for a in s.query(Attachment).all() if all(getattr(a, k) == v for k, v in where.items())]
        s.expunge_all()
        return found


def stored_files(router: Router) -> list[Path]:
    root = Path(router.core.data_dir) / "photos"  # type: ignore[arg-type]
    return sorted(p for p in root.rglob("*.jpg")) if root.exists() else []


def file_hazard(router: Router) -> int:
    result = router.dispatch(group_msg(HAZARD))
    assert result.report_id is not None
    return result.report_id


def test_a_group_photo_captioned_with_a_number_joins_that_report_before_rectification(desk: Router) -> None:
    rid = file_hazard(desk)
    result = desk.dispatch(photo_msg(f"#{rid} 就是这孔窑洞"))
    assert f"#{rid}" in result.replies[0].text and "整改前" in result.replies[0].text
    [row] = rows(desk, report_id=rid)
    assert row.role == "before" and row.added_by == "villager(telegram:u1)" and row.mime == "image/jpeg"
    [path] = stored_files(desk)
    assert path.name == f"{row.sha256}.jpg"
    assert metadata(path.read_bytes())[1] == {0x9003: TAKEN} and metadata(path.read_bytes())[2] == {}


def test_a_photo_replying_to_the_bots_card_joins_the_report_it_names(desk: Router) -> None:
    rid = file_hazard(desk)
    result = desk.dispatch(photo_msg("", reply_to_bot=f"已登记隐患 #{rid}（一般隐患）……"))
    assert "整改前" in result.replies[0].text
    assert len(rows(desk, report_id=rid, role="before")) == 1


def test_a_hazard_caption_is_filed_and_the_photo_joins_it(desk: Router) -> None:
    result = desk.dispatch(photo_msg(HAZARD))
    assert result.report_id is not None and f"#{result.report_id}" in result.replies[0].text
    assert "整改前" in result.replies[0].text
    assert len(rows(desk, report_id=result.report_id, role="before")) == 1


@pytest.mark.parametrize("caption", ["", "收到", "今天天气真好", "#不是编号"])
def test_a_group_photo_about_nothing_is_ignored_silently_and_not_stored(desk: Router, caption: str) -> None:
    result = desk.dispatch(photo_msg(caption))
    assert result.replies == []
    assert rows(desk) == [] and stored_files(desk) == []


def test_rectified_caption_runs_the_command_and_keeps_the_photo_as_after(desk: Router) -> None:
    rid = file_hazard(desk)
    refused = desk.dispatch(photo_msg(f"/整改完成 {rid} 已加固"))
    assert "/整改完成" in refused.replies[0].text and rows(desk) == []
    done = desk.dispatch(photo_msg(f"/整改完成 {rid} 已加固", sender=OFFICIAL_ID))
    assert "已整改" in done.replies[0].text and "整改后" in done.replies[0].text
    with desk.core.sessions() as s:
        assert s.get(Report, rid).status == "rectified"  # type: ignore[union-attr]
    [row] = rows(desk, report_id=rid)
    assert row.role == "after" and row.added_by == "李秀英(telegram:off1)"


def test_the_same_photo_is_stored_once_for_two_reports(desk: Router) -> None:
    first, second = file_hazard(desk), desk.dispatch(group_msg("李家沟村口的电线杆歪了，快倒了")).report_id
    assert second is not None and second != first
    raw = jpeg_with_gps()
    desk.dispatch(photo_msg(f"#{first}", raw))
    again = desk.dispatch(photo_msg(f"#{first}", raw))
    assert "没有重复保存" in again.replies[0].text
    desk.dispatch(photo_msg(f"#{second}", raw))
    assert len(rows(desk)) == 2 and len(stored_files(desk)) == 1


def test_limits_and_bad_photos_get_a_clear_reply_and_nothing_is_stored(desk: Router) -> None:
    rid = file_hazard(desk)
    for i in range(photos.MAX_PER_SIDE):
        assert "整改前" in desk.dispatch(photo_msg(f"#{rid}", jpeg_with_gps((i * 25, 60, 9)))).replies[0].text
    tenth = desk.dispatch(photo_msg(f"#{rid}", jpeg_with_gps((250, 250, 250))))
    assert "上限" in tenth.replies[0].text
    bad = desk.dispatch(photo_msg(f"#{rid}", b"GIF89a broken"))
    assert "打不开" in bad.replies[0].text
    big = desk.dispatch(dataclasses.replace(group_msg(f"#{rid}"), photo_error="too_large"))
    assert "太大" in big.replies[0].text and "5 MB" in big.replies[0].text
    assert len(rows(desk, report_id=rid)) == photos.MAX_PER_SIDE
    assert len(stored_files(desk)) == photos.MAX_PER_SIDE


def test_a_private_photo_waits_for_the_words_and_joins_the_tip_with_nothing_about_anyone(
    desk: Router, clock: Clock
) -> None:
    clock.now = clock.now.replace(minute=37, second=12)
    held = desk.dispatch(photo_msg("", private=True))
    assert "暂存" in held.replies[0].text and rows(desk) == [] and stored_files(desk) == []
    filed = desk.dispatch(private_msg(TIP))
    assert "回执码" in filed.replies[0].text and "已附照片 1 张" in filed.replies[0].text
    assert filed.report_id is None
    [row] = rows(desk)
    assert row.tip_id is not None and row.report_id is None and row.added_by is None
    assert row.created_at == clock.now.replace(minute=0, second=0)
    [path] = stored_files(desk)
    top, exif, gps, info = metadata(path.read_bytes())
    assert top == {} and exif == {} and gps == {} and "exif" not in info
    hour = clock.now.replace(minute=0, second=0).timestamp()
    assert path.stat().st_mtime == path.parent.stat().st_mtime == path.parent.parent.stat().st_mtime == hour
    with desk.core.sessions() as s:
        tip = s.get(Tip, row.tip_id)
        assert tip is not None
    assert len(desk.photos.held) == 0


def test_a_private_photo_with_a_tip_caption_is_filed_at_once(desk: Router) -> None:
    filed = desk.dispatch(photo_msg(TIP, private=True))
    assert "回执码" in filed.replies[0].text and "已附照片 1 张" in filed.replies[0].text
    assert len(rows(desk)) == 1 and rows(desk)[0].tip_id is not None


def test_a_held_private_photo_is_forgotten_after_ten_minutes(desk: Router, clock: Clock) -> None:
    desk.dispatch(photo_msg("", private=True))
    clock.now += timedelta(minutes=11)
    filed = desk.dispatch(private_msg(TIP))
    assert "照片" not in filed.replies[0].text.split("回执码")[0] and rows(desk) == []


def test_query_counts_photos_and_photos_come_only_in_private_to_officials(desk: Router) -> None:
    rid = file_hazard(desk)
    desk.dispatch(photo_msg(f"#{rid}"))
    desk.dispatch(photo_msg(f"/整改完成 {rid}", jpeg_with_gps((0, 0, 200)), sender=OFFICIAL_ID))
    public = desk.dispatch(group_msg(f"/查询 {rid}"))
    assert "整改前 1 张，整改后 1 张" in public.replies[0].text
    official = desk.dispatch(private_msg(f"/查询 {rid}", sender=OFFICIAL_ID))
    assert "整改前 1 张，整改后 1 张" in official.replies[0].text
    in_group = desk.dispatch(group_msg(f"/照片 {rid}", sender=OFFICIAL_ID))
    assert "私聊" in in_group.replies[0].text and all(r.image is None for r in in_group.replies)
    villager = desk.dispatch(private_msg(f"/照片 {rid}"))
    assert all(r.image is None for r in villager.replies)
    sent = desk.dispatch(private_msg(f"/photos {rid}", sender=OFFICIAL_ID))
    images = [r.image for r in sent.replies if r.image is not None]
    assert len(images) == 2 and all(Image.open(io.BytesIO(i)).format == "JPEG" for i in images)
    texts = [r.text for r in sent.replies if r.image is None]
    assert texts[0].startswith(f"#{rid} 的照片") and "整改前 1 张：" in texts and "整改后 1 张：" in texts


def test_a_group_photo_sent_before_its_words_waits_for_them_from_the_same_sender(
    desk: Router, clock: Clock
) -> None:
    rid = file_hazard(desk)
    assert desk.dispatch(photo_msg("")).replies == []  # WeChat photos never have a caption
    assert desk.dispatch(group_msg("收到", sender="someone-else")).replies == []
    assert desk.dispatch(group_msg(f"#{rid}", sender="someone-else")).replies == []  # not their photo
    assert desk.dispatch(group_msg("这是刚才拍的")).replies == []  # chatter: the photo keeps waiting
    named = desk.dispatch(group_msg(f"#{rid} 就是这个"))
    assert "整改前共 1 张" in named.replies[0].text
    assert len(rows(desk, report_id=rid, role="before")) == 1
    assert desk.dispatch(group_msg(f"#{rid}")).replies == []  # nothing waits any more: plain chatter again


def test_a_group_photo_then_a_hazard_files_it_with_the_photo_and_old_photos_expire(
    desk: Router, clock: Clock
) -> None:
    desk.dispatch(photo_msg("", jpeg_with_gps((1, 2, 250))))
    filed = desk.dispatch(group_msg(HAZARD))
    assert filed.report_id is not None and "整改前共 1 张" in filed.replies[0].text
    clock.now += timedelta(minutes=3)  # past an album's two minutes: the next photo waits for words
    desk.dispatch(photo_msg("", jpeg_with_gps((250, 2, 1))))
    clock.now += timedelta(minutes=11)
    later = desk.dispatch(group_msg(f"#{filed.report_id}"))
    assert later.replies == [] and len(rows(desk)) == 1


def test_an_officials_photos_then_rectified_go_to_the_after_side(desk: Router) -> None:
    rid = file_hazard(desk)
    for color in ((9, 9, 200), (200, 9, 9)):
        desk.dispatch(photo_msg("", jpeg_with_gps(color), sender=OFFICIAL_ID))
    done = desk.dispatch(group_msg(f"/整改完成 {rid} 已加固", sender=OFFICIAL_ID))
    assert "已整改" in done.replies[0].text and "整改后共 2 张" in done.replies[0].text
    assert [r.role for r in rows(desk, report_id=rid)] == ["after", "after"]


def test_photos_taken_by_a_transaction_that_rolls_back_wait_again(desk: Router, clock: Clock) -> None:
    from handlers.messages import Outcome
    from storage import tips as tip_repo

    desk.dispatch(photo_msg("", private=True))
    msg = private_msg(TIP)
    session = desk.core.sessions()
    try:
        tip = tip_repo.create_tip(
            session, receipt_code="ABCDEFGHJKLMNPQRST", now=clock.now, kind="tip", category="mining",
            severity="major", text=TIP, confidence=0.9,
        )  # fmt: skip
        result = desk.photos.after_filing(session, msg, Outcome("anonymous-filed", "ok", tip_id=tip.id))
        assert "已附照片 1 张" in result.reply  # type: ignore[attr-defined]
        assert desk.photos.held.count(msg.platform, msg.chat_id, clock.now) == 0
        session.rollback()  # e.g. a deadlock: the router will try the message again
    finally:
        session.close()
    assert desk.photos.held.count(msg.platform, msg.chat_id, clock.now) == 1
    filed = desk.dispatch(msg)
    assert "已附照片 1 张" in filed.replies[0].text and len(rows(desk)) == 1


def test_a_photo_while_following_up_a_tip_joins_that_tip_at_once(desk: Router) -> None:
    import re

    filed = desk.dispatch(private_msg(TIP))
    code = re.search(r"回执码：(\S+)", filed.replies[0].text)
    assert code, filed.replies[0].text
    desk.dispatch(private_msg(f"/进度 {code.group(1)}"))
    added = desk.dispatch(photo_msg("", private=True))
    assert "已补充到您的举报 T" in added.replies[0].text and "现有照片 1 张" in added.replies[0].text
    [row] = rows(desk)
    assert row.tip_id is not None and row.added_by is None
    assert len(desk.photos.held) == 0  # nothing waits: it went straight to the tip


def test_more_photos_right_after_a_tip_join_it_and_stop_after_ten_minutes(desk: Router, clock: Clock) -> None:
    filed = desk.dispatch(photo_msg(TIP, private=True))  # an album: the first photo carries the words
    assert "已附照片 1 张" in filed.replies[0].text
    second = desk.dispatch(photo_msg("", jpeg_with_gps((0, 90, 200)), private=True))
    assert "现有照片 2 张" in second.replies[0].text
    assert {r.tip_id for r in rows(desk)} == {rows(desk)[0].tip_id} and len(rows(desk)) == 2
    clock.now += timedelta(minutes=11)
    later = desk.dispatch(photo_msg("", jpeg_with_gps((200, 90, 0)), private=True))
    assert "暂存" in later.replies[0].text and len(rows(desk)) == 2


def test_a_group_album_follows_its_captioned_photo_for_two_minutes(desk: Router, clock: Clock) -> None:
    rid = file_hazard(desk)
    desk.dispatch(photo_msg(f"#{rid}", jpeg_with_gps((1, 1, 1))))
    second = desk.dispatch(photo_msg("", jpeg_with_gps((120, 1, 1))))  # the album's other photos: no caption
    third = desk.dispatch(photo_msg("", jpeg_with_gps((1, 120, 1))))
    assert "整改前共 2 张" in second.replies[0].text and "整改前共 3 张" in third.replies[0].text
    assert desk.dispatch(photo_msg("", jpeg_with_gps((1, 1, 120)), sender="someone-else")).replies == []
    clock.now += timedelta(minutes=3)
    assert desk.dispatch(photo_msg("", jpeg_with_gps((90, 90, 1)))).replies == []  # waits for words again
    assert len(rows(desk, report_id=rid)) == 3


def test_an_albums_wordless_photos_handled_first_join_the_captioned_one(desk: Router) -> None:
    rid = file_hazard(desk)
    # Telegram hands an album's photos over at once: the ones without words may be handled first.
    assert desk.dispatch(photo_msg("", jpeg_with_gps((5, 5, 160)))).replies == []
    captioned = desk.dispatch(photo_msg(f"#{rid}", jpeg_with_gps((160, 5, 5))))
    assert "整改前共 2 张" in captioned.replies[0].text
    assert len(rows(desk, report_id=rid, role="before")) == 2


def test_a_tip_photo_never_shares_its_stored_name_with_the_same_picture_in_a_group(desk: Router) -> None:
    """An official with the database but not the key file cannot match a tip's photo to a group sender's."""
    plain = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(plain, "JPEG")  # no EXIF: both copies re-encode alike
    desk.dispatch(photo_msg(HAZARD, plain.getvalue()))
    desk.dispatch(photo_msg("举报 后沟那个煤窑晚上偷偷开采，别说是我说的", plain.getvalue(), private=True))
    group_rows, tip_rows = rows(desk, tip_id=None), [r for r in rows(desk) if r.tip_id is not None]
    assert len(group_rows) == 1 and len(tip_rows) == 1
    assert group_rows[0].sha256 != tip_rows[0].sha256
