"""Photo evidence: where a photo goes (a report's before or after side, or a tip), and how it is kept.

Every photo is re-encoded as a JPEG with Pillow before anything is stored, so nothing of the original file
survives but its pixels: EXIF, GPS, maker notes, ICC profiles and comments are all dropped. A report's photo keeps
only its capture time (EXIF DateTimeOriginal) when it had one; a tip's photo keeps no metadata at all. Files are
stored content-addressed under the data folder (``<data_dir>/photos/ab/<sha256>.jpg``, folders 0700, files 0600),
so the same photo sent twice is kept once.

Where a photo goes (``PhotoDesk.handle``, called by the router for every message that carries one):

- in a group, a caption ``#<id>`` (or ``#<id> 说明``), or a reply to the bot's card that names ``#<id>``: the report's
  整改前 (before) side, whoever sends it;
- a caption ``/整改完成 <id> [说明]``: the command runs as usual, and the photo goes to the after side when the sender
  is an official who may act on that report;
- a caption that is itself a hazard: it is filed as usual and the photo goes to the before side of what was filed
  (or of the report it was merged into);
- a group photo with no words at all (WeChat photos never have any): it waits in memory, silently, for its
  sender's next message in that group within ``HOLD_WINDOW`` (``#<id>``, a hazard, /整改完成 <id> place it);
- anything else in a group: ignored, silently;
- in a private chat: the photo is held in memory only (keyed by an HMAC of platform and chat, never written
  anywhere) for ``HOLD_WINDOW`` and attached to the next tip filed from that chat, which may be the caption itself.
  Officials may also use ``#<id>`` and ``/整改完成 <id>`` in private.

A photo that is not a readable image, or is too large, or would go over a report's limits, is refused with a clear
Chinese reply and nothing is stored; the words that came with it are handled as usual. Held photos taken by a
transaction that rolls back go back to waiting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import io
import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.orm import Session

from handlers import permissions
from handlers.commands import parse_command
from handlers.context import Core, official_actor
from handlers.messages import IncomingMessage, Outcome
from handlers.tip_followup import FollowupWindows
from storage import attachments as attachment_repo
from storage import officials as official_repo
from storage import reports as report_repo
from storage import tips as tip_repo
from storage.db import PRIVATE_DIR, PRIVATE_FILE
from storage.models import Official, Report

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

# Limits (module constants: the town profile has no place for them yet).
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # one photo as received
MAX_PER_SIDE = 9  # photos on each side (before / after) of one report, and per tip
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # all stored photos of one report or tip
MAX_PIXELS = 50_000_000  # refuse decompression bombs before decoding
MAX_SIDE = 4096  # longer photos are scaled down to this many pixels on their long side
JPEG_QUALITY = 85
MIME = "image/jpeg"
FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"})
# Private photos wait in memory for the tip they belong to; bounded per chat and in total.
HOLD_WINDOW = timedelta(minutes=10)
HOLD_PER_CHAT = MAX_PER_SIDE
HOLD_TOTAL_BYTES = 100 * 1024 * 1024
# In a group, wordless photos this soon after the sender's last photo went to a report follow it (an album).
ALBUM_WINDOW = timedelta(minutes=2)

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003
_EXIF_TIME = re.compile(r"^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}$")
_CAPTION_ID = re.compile(r"^[#＃]\s*(\d{1,9})(?![\d.])(?:\s+.*)?$", re.DOTALL)
_CARD_ID = re.compile(r"[#＃](\d{1,9})(?!\d)")
_SINGLE_ID = re.compile(r"^[#＃]?\s*(\d{1,9})(?![\d.,，、])(?:\s.*)?$", re.DOTALL)
AFTER_COMMANDS = frozenset({"整改完成", "done"})
# A tip in one of these takes no more photos from its tipster.
CLOSED_TIP_STATUSES = frozenset({"closed", "rejected", "duplicate"})
# Outcomes of handling words that filed a report (or merged into one) the photo can join as "before".
FILED_OUTCOMES = frozenset({"filed", "filed-silently", "duplicate"})


class PhotoError(Exception):
    """A photo that cannot be kept; ``reason`` is the key of its Chinese reply in ``[photos]``."""

    def __init__(self, reason: str, **values: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


@dataclass(frozen=True)
class Prepared:
    """A photo ready to store: the clean JPEG bytes and their sha256 (the file's name)."""

    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        """The stored size in bytes."""
        return len(self.data)


def prepare(raw: bytes, *, keep_time: bool) -> Prepared:
    """Re-encode ``raw`` as a clean JPEG: upright, RGB, at most ``MAX_SIDE`` pixels long, no metadata.

    With ``keep_time`` the capture time (EXIF DateTimeOriginal) is kept if the photo had one; nothing else is,
    never GPS. Raises PhotoError("too_large") or PhotoError("bad") for what cannot be kept.
    """
    from PIL import Image, ImageOps

    if len(raw) > MAX_IMAGE_BYTES:
        raise PhotoError("too_large", mb=MAX_IMAGE_BYTES // (1024 * 1024))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw))
            if img.format not in FORMATS:
                raise PhotoError("bad")
            width, height = img.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise PhotoError("bad")
            taken = _capture_time(img) if keep_time else None
            img.load()
            upright = ImageOps.exif_transpose(img)
            rgb = _flatten(upright)
            if max(rgb.size) > MAX_SIDE:
                rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            # A fresh image carries no info dictionary at all (no ICC profile, comment or XMP to leak).
            clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    except PhotoError:
        raise
    except (OSError, SyntaxError, ValueError, TypeError, Image.DecompressionBombError, Warning) as exc:
        raise PhotoError("bad") from exc
    exif = b""
    if taken is not None:
        fresh = Image.Exif()
        fresh.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = taken
        exif = fresh.tobytes()
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY, exif=exif)
    data = out.getvalue()
    return Prepared(data, hashlib.sha256(data).hexdigest())


def _capture_time(img: object) -> str | None:
    try:
        value = img.getexif().get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL)  # type: ignore[attr-defined]
    except Exception:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        value = value.strip("\x00 ")
        if _EXIF_TIME.match(value):
            return value
    return None


def _flatten(img: object) -> Image.Image:
    from PIL import Image

    assert isinstance(img, Image.Image)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return img.convert("RGB")


class PhotoStore:
    """Photos as files named by their sha256 under one folder: ``<root>/ab/<sha256>.jpg`` (0700 / 0600)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the photo with this sha256 lives (whether or not it exists)."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("not a sha256")
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def save(self, photo: Prepared, *, stamp: datetime | None = None) -> Path:
        """Write the photo unless it is there already; ``stamp`` sets a new file's times (a tip's: the hour)."""
        path = self.path(photo.sha256)
        if path.exists():
            return path
        for folder in (self.root, path.parent):
            folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            os.chmod(folder, PRIVATE_DIR)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".in-")
        try:
            os.fchmod(fd, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as f:
                f.write(photo.data)
            if stamp is not None:
                os.utime(tmp, (stamp.timestamp(), stamp.timestamp()))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if (
            stamp is not None
        ):  # the folders' times would tell when the file came: the hour only, like the file
            for folder in (path.parent, self.root):
                with contextlib.suppress(OSError):
                    os.utime(folder, (stamp.timestamp(), stamp.timestamp()))
        return path

    def read(self, sha256: str) -> bytes | None:
        """The stored photo, or None when its file is missing."""
        try:
            return self.path(sha256).read_bytes()
        except (OSError, ValueError):
            return None


@dataclass(frozen=True)
class _Held:
    photo: Prepared
    expires_at: datetime


class HeldPhotos:
    """Private photos waiting for their tip, in memory only, by a keyed hash of platform and chat."""

    def __init__(
        self,
        secret: bytes,
        window: timedelta = HOLD_WINDOW,
        per_chat: int = HOLD_PER_CHAT,
        total_bytes: int = HOLD_TOTAL_BYTES,
    ) -> None:
        self._secret = secret
        self.window = window
        self.per_chat = per_chat
        self.total_bytes = total_bytes
        self._items: dict[str, list[_Held]] = {}
        self._lock = threading.Lock()  # the router runs in several worker threads

    def _key(self, platform: str, chat_id: str) -> str:
        raw = f"photo:{platform}:{chat_id}".encode()
        return hmac.new(self._secret, raw, hashlib.sha256).hexdigest()

    def hold(self, platform: str, chat_id: str, photo: Prepared, now: datetime) -> bool:
        """Keep ``photo`` for the chat until the window has passed; False when the chat or memory is full.

        The same photo held twice (a redelivered message) is kept once. Holding renews the chat's window.
        """
        key = self._key(platform, chat_id)
        with self._lock:
            self._purge_locked(now)
            items = self._items.setdefault(key, [])
            if any(h.photo.sha256 == photo.sha256 for h in items):
                return True
            used = sum(h.photo.size for held in self._items.values() for h in held)
            if len(items) >= self.per_chat or used + photo.size > self.total_bytes:
                if not items:
                    del self._items[key]
                return False
            expires = now + self.window
            self._items[key] = [
                *(dataclasses.replace(h, expires_at=expires) for h in items),
                _Held(photo, expires),
            ]
            return True

    def count(self, platform: str, chat_id: str, now: datetime) -> int:
        """How many photos the chat has waiting."""
        with self._lock:
            return len([h for h in self._items.get(self._key(platform, chat_id), []) if now <= h.expires_at])

    def take(self, platform: str, chat_id: str, now: datetime) -> list[Prepared]:
        """The chat's photos still valid, oldest first; they are forgotten either way."""
        with self._lock:
            items = self._items.pop(self._key(platform, chat_id), [])
        return [h.photo for h in items if now <= h.expires_at]

    def purge(self, now: datetime) -> int:
        """Forget every expired photo; returns how many."""
        with self._lock:
            return self._purge_locked(now)

    def _purge_locked(self, now: datetime) -> int:
        dropped = 0
        for key in list(self._items):
            kept = [h for h in self._items[key] if now <= h.expires_at]
            dropped += len(self._items[key]) - len(kept)
            if kept:
                self._items[key] = kept
            else:
                del self._items[key]
        return dropped

    def __len__(self) -> int:
        return sum(len(v) for v in self._items.values())


class LastPlaces:
    """Where a group sender's last photo went (report, side), for ``window``: in memory only, HMAC-keyed."""

    def __init__(self, secret: bytes, window: timedelta = HOLD_WINDOW) -> None:
        self._secret = secret
        self.window = window
        self._items: dict[str, tuple[tuple[int, str], datetime]] = {}
        self._lock = threading.Lock()

    def _key(self, platform: str, chat_id: str) -> str:
        return hmac.new(
            self._secret, f"photo-place:{platform}:{chat_id}".encode(), hashlib.sha256
        ).hexdigest()

    def put(self, platform: str, chat_id: str, place: tuple[int, str], now: datetime) -> None:
        """Remember ``place`` (report id, side) until the window has passed."""
        with self._lock:
            self._items[self._key(platform, chat_id)] = (place, now + self.window)

    def get(self, platform: str, chat_id: str, now: datetime) -> tuple[int, str] | None:
        """The place remembered for this key, if still valid."""
        with self._lock:
            found = self._items.get(self._key(platform, chat_id))
        return found[0] if found is not None and now <= found[1] else None

    def purge(self, now: datetime) -> None:
        """Forget every place whose window has passed."""
        with self._lock:
            for key in [k for k, (_, expires) in self._items.items() if now > expires]:
                del self._items[key]


def store_for(core: Core) -> PhotoStore | None:
    """The photo folder of this bot (``<data_dir>/photos``), or None when the core keeps no files."""
    data_dir = getattr(core, "data_dir", None)
    return PhotoStore(Path(data_dir) / "photos") if data_dir is not None else None


def side_label(core: Core, role: str) -> str:
    """整改前 / 整改后."""
    return core.texts(f"photos.side_{role}")


def error_text(core: Core, error: PhotoError) -> str:
    """The Chinese reply for a refused photo."""
    return core.texts(f"photos.{error.reason}", **error.values)


def attach(
    session: Session,
    core: Core,
    photo: Prepared,
    *,
    role: str,
    report_id: int | None = None,
    tip_id: int | None = None,
    added_by: str | None = None,
) -> bool:
    """Store ``photo`` and record it on one side of a report or on a tip, within the limits.

    Returns False when this very photo is there already (nothing new is written). Raises PhotoError
    ("too_many" / "full") when the limits would be passed, and nothing is stored.
    """
    store = store_for(core)
    if store is None:
        raise PhotoError("unavailable")
    if tip_id is not None:
        # A tip's photo is named by a keyed hash: the same picture also sent in a group must not share its name,
        # or anyone reading the database could match the tip to that group sender.
        photo = Prepared(
            photo.data, hmac.new(core.secret, b"tip-photo:" + photo.data, hashlib.sha256).hexdigest()
        )
    if attachment_repo.find(session, photo.sha256, role=role, report_id=report_id, tip_id=tip_id):
        return False
    label = f"T{tip_id}" if tip_id is not None else f"#{report_id}"
    counts = attachment_repo.counts(session, report_id=report_id, tip_id=tip_id)
    if counts[role] >= MAX_PER_SIDE:
        raise PhotoError("too_many", id=label, side=side_label(core, role), max=MAX_PER_SIDE)
    if attachment_repo.total_size(session, report_id=report_id, tip_id=tip_id) + photo.size > MAX_TOTAL_BYTES:
        raise PhotoError("full", id=label, mb=MAX_TOTAL_BYTES // (1024 * 1024))
    now = core.clock()
    hour = now.replace(minute=0, second=0, microsecond=0)
    store.save(photo, stamp=hour if tip_id is not None else None)
    attachment_repo.add_attachment(
        session,
        sha256=photo.sha256,
        size=photo.size,
        mime=MIME,
        role=role,
        now=now,
        report_id=report_id,
        tip_id=tip_id,
        added_by=None if tip_id is not None else added_by,
    )
    return True


def _join(*parts: object) -> str | None:
    text = "\n".join(str(p) for p in parts if p)
    return text or None


def _with_note(handled: Outcome, *notes: str | None) -> Outcome:
    """``handled`` with ``notes`` after its text (a reply of several messages gives way to the notes)."""
    text = handled.reply if isinstance(handled.reply, str) else None
    return dataclasses.replace(handled, reply=_join(text, *notes))


class PhotoDesk:
    """The router's photo clerk: decides where a photo goes, and holds private ones until their tip is filed."""

    def __init__(self, core: Core, current_tip: Callable[[str, str], int | None] | None = None) -> None:
        self.core = core
        self.held = HeldPhotos(core.secret)
        # The tip a private chat is following up (after /进度), if any: its photos go straight to that tip.
        self.current_tip = current_tip
        # The tip just filed from a private chat (memory only, HMAC-keyed, HOLD_WINDOW): more photos join it
        # (an album's other photos, or a photo sent after the words).
        self.just_filed = FollowupWindows(core.secret, HOLD_WINDOW)
        # In a group, the report a sender's last photo went to, per side: the rest of an album follows it.
        self.group_last = LastPlaces(core.secret, ALBUM_WINDOW)
        # Group photos sent without words, per sender: their words (``#23``, a hazard, /整改完成 23) may follow.
        self.group_held = HeldPhotos(core.secret)

    def waiting(self, msg: IncomingMessage) -> bool:
        """Whether the sender of a group message has photos waiting for the words that say where they go."""
        if msg.chat_type != "group" or msg.has_photo or not len(self.group_held):
            return False
        return self.group_held.count(msg.platform, _sender_key(msg), self.core.clock()) > 0

    # --- the router's entry points ---------------------------------------------------------------------------

    def handle(
        self,
        session: Session,
        msg: IncomingMessage,
        handle_text: Callable[[Session, IncomingMessage], Outcome],
    ) -> Outcome:
        """Handle a message that carries a photo (or whose sender has group photos waiting).

        ``handle_text`` handles the words as if there were no photo.
        """
        caption = (msg.text or "").strip()
        command = parse_command(caption) if caption else None
        if command is not None:
            if command.for_other_bot(msg.bot_username) or command.name not in AFTER_COMMANDS:
                return handle_text(session, msg)  # other commands: the photo plays no part
            return self._after(session, msg, command.args, handle_text)
        official = official_repo.get_official(session, msg.platform, msg.sender_id)
        named = self._named_report(msg, caption)
        private = msg.chat_type == "private"
        if named is not None and (not private or official is not None):
            return self._before(session, msg, named, official)
        if private:
            return self._private(session, msg, caption, handle_text, named)
        if not caption:
            follows = self._album(session, msg, official)
            if follows is not None:
                return follows
            self._hold_group(msg)  # silently: the words may follow (WeChat photos never have any)
            return Outcome("photo-held")
        handled = handle_text(session, msg)
        report_id = handled.report_id
        if handled.outcome not in FILED_OUTCOMES or report_id is None:
            return handled  # chatter (or anything else) with a photo: the photo is ignored
        added, note = self._attach_or_say(session, msg, report_id, "before", self._added_by(msg, official))
        if added:
            self._remember(msg, "before", report_id)
        if handled.reply is None:  # filed silently: stay silent about the photo too
            return handled
        return _with_note(handled, note)

    def after_filing(self, session: Session, msg: IncomingMessage, result: Outcome) -> Outcome:
        """A private tip was just filed (``result.tip_id``): attach the chat's held photos to it, say how many."""
        tip_id = result.tip_id
        if tip_id is None:
            return result
        now = self.core.clock()
        self.just_filed.open(msg.platform, msg.chat_id, tip_id, now)
        photos = self.held.take(msg.platform, msg.chat_id, now)
        if not photos:
            return result
        _give_back_on_rollback(session, self.held, msg.platform, msg.chat_id, photos, now)
        attached, refused = 0, None
        for photo in photos:
            try:
                attached += attach(session, self.core, photo, role="before", tip_id=tip_id)
            except PhotoError as exc:
                refused = exc
        notes = [self.core.texts("photos.tip_attached", count=attached)] if attached else []
        if refused is not None:
            notes.append(error_text(self.core, refused))
        return _with_note(result, *notes)

    def purge(self, now: datetime) -> None:
        """Forget held photos whose window has passed."""
        self.held.purge(now)
        self.group_held.purge(now)
        self.just_filed.purge(now)
        self.group_last.purge(now)

    # --- where a photo goes ----------------------------------------------------------------------------------

    def _named_report(self, msg: IncomingMessage, caption: str) -> int | None:
        """The report a caption ``#<id>`` names, or (no caption) the one on the bot's card this replies to."""
        match = _CAPTION_ID.match(caption)
        if match:
            return int(match.group(1))
        if msg.reply_to_bot:
            card = _CARD_ID.search(msg.reply_to_bot)
            if card:
                return int(card.group(1))
        return None

    def _before(
        self, session: Session, msg: IncomingMessage, report_id: int, official: Official | None
    ) -> Outcome:
        t = self.core.texts
        report = report_repo.get_report(session, report_id)
        if report is None or (report.anonymous and not permissions.may_read_tips(official)):
            return Outcome("photo-refused", t("commands.report_not_found", id=report_id))
        if msg.chat_type == "private" and official is not None:
            refusal = permissions.report_scope(official, report.village, report.id)
            if refusal is not None:
                return Outcome("photo-refused", t(refusal.key, **refusal.values))
        added, note = self._attach_or_say(session, msg, report.id, "before", self._added_by(msg, official))
        if added and msg.chat_type == "group":
            self._remember(msg, "before", report.id)
        outcome = "photo-attached" if added else "photo-refused"
        return Outcome(outcome, note, report.id if msg.chat_type == "group" else None)

    def _after(
        self,
        session: Session,
        msg: IncomingMessage,
        args: str,
        handle_text: Callable[[Session, IncomingMessage], Outcome],
    ) -> Outcome:
        handled = handle_text(session, msg)  # the command runs as usual
        match = _SINGLE_ID.match(args)
        official = official_repo.get_official(session, msg.platform, msg.sender_id)
        if match is None or official is None:
            return handled
        report = report_repo.get_report(session, int(match.group(1)))
        if (
            report is None
            or report.anonymous
            or permissions.report_scope(official, report.village, report.id)
        ):
            return handled
        added, note = self._attach_or_say(session, msg, report.id, "after", official_actor(official))
        if added and msg.chat_type == "group":
            self._remember(msg, "after", report.id)
        return _with_note(handled, note)

    def _private(
        self,
        session: Session,
        msg: IncomingMessage,
        caption: str,
        handle_text: Callable[[Session, IncomingMessage], Outcome],
        named: int | None,
    ) -> Outcome:
        t = self.core.texts
        if named is not None:  # a villager naming a group report in private: not from here
            return Outcome("photo-refused", t("photos.private_refer_group", id=named))
        followed = self.current_tip(msg.platform, msg.chat_id) if self.current_tip is not None else None
        if followed is None:
            followed = self.just_filed.current(msg.platform, msg.chat_id, self.core.clock())
        tip = tip_repo.get_tip(session, followed) if followed is not None else None
        if (
            tip is not None
            and tip.status not in CLOSED_TIP_STATUSES
            and getattr(tip, "purged_at", None) is None
        ):
            return self._supplement(session, msg, caption, handle_text, tip.id)
        now = self.core.clock()
        problem = None
        try:
            photo = self._prepare(msg, keep_time=False)  # a tip's photo keeps nothing at all
            if not self.held.hold(msg.platform, msg.chat_id, photo, now):
                problem = t("photos.hold_full", max=HOLD_PER_CHAT)
        except PhotoError as exc:
            problem = error_text(self.core, exc)
        if not caption:
            if problem is not None:
                return Outcome("photo-refused", problem)
            count = self.held.count(msg.platform, msg.chat_id, now)
            minutes = int(self.held.window.total_seconds() // 60)
            return Outcome("photo-held", t("photos.held", count=count, minutes=minutes))
        handled = handle_text(session, msg)  # a tip filed from it takes the held photos
        still = self.held.count(msg.platform, msg.chat_id, now)
        if still and handled.outcome != "anonymous-filed":
            minutes = int(self.held.window.total_seconds() // 60)
            problem = _join(problem, t("photos.held_note", count=still, minutes=minutes))
        return _with_note(handled, problem)

    def _supplement(
        self,
        session: Session,
        msg: IncomingMessage,
        caption: str,
        handle_text: Callable[[Session, IncomingMessage], Outcome],
        tip_id: int,
    ) -> Outcome:
        """A photo while the tipster follows up their tip (after /进度): it joins that tip at once."""
        label = tip_repo.tip_label(tip_id)
        try:
            photo = self._prepare(msg, keep_time=False)  # a tip's photo keeps nothing at all
            attach(session, self.core, photo, role="before", tip_id=tip_id)
            count = sum(attachment_repo.counts(session, tip_id=tip_id).values())
            note = self.core.texts("photos.tip_supplemented", id=label, count=count)
        except PhotoError as exc:
            note = error_text(self.core, exc)
        if not caption:
            return Outcome("tip-photo", note)
        handled = handle_text(session, msg)  # the words supplement the tip as usual
        return _with_note(handled, note)

    # --- helpers ---------------------------------------------------------------------------------------------

    def _album(self, session: Session, msg: IncomingMessage, official: Official | None) -> Outcome | None:
        """A wordless group photo right after the sender's last one went to a report: it goes there too."""
        last = self.group_last.get(msg.platform, _sender_key(msg), self.core.clock())
        if last is None:
            return None
        report_id, role = last
        added, note = self._attach_or_say(session, msg, report_id, role, self._added_by(msg, official))
        return Outcome("photo-attached" if added else "photo-refused", note, report_id)

    def _remember(self, msg: IncomingMessage, role: str, report_id: int) -> None:
        self.group_last.put(msg.platform, _sender_key(msg), (report_id, role), self.core.clock())

    def _hold_group(self, msg: IncomingMessage) -> None:
        try:
            photo = self._prepare(msg, keep_time=True)
        except PhotoError:
            return  # a bad photo about nothing: ignored like the rest of the chatter
        self.group_held.hold(msg.platform, _sender_key(msg), photo, self.core.clock())

    def _incoming(self, session: Session, msg: IncomingMessage) -> list[Prepared]:
        """The photos a message brings: in a group, its sender's waiting ones first (an album's other photos may
        be handled before the one with the words), then its own."""
        own = [self._prepare(msg, keep_time=True)] if msg.has_photo else []
        if msg.chat_type != "group":
            return own
        now = self.core.clock()
        photos = self.group_held.take(msg.platform, _sender_key(msg), now)
        _give_back_on_rollback(session, self.group_held, msg.platform, _sender_key(msg), photos, now)
        return photos + own

    def _prepare(self, msg: IncomingMessage, *, keep_time: bool) -> Prepared:
        if msg.photo_error is not None or msg.photo is None:
            reason = msg.photo_error if msg.photo_error in ("too_large", "failed") else "failed"
            raise PhotoError(reason, mb=MAX_IMAGE_BYTES // (1024 * 1024))
        return prepare(msg.photo, keep_time=keep_time)

    def _added_by(self, msg: IncomingMessage, official: Official | None) -> str:
        if official is not None:
            return official_actor(official)
        return f"villager({msg.platform}:{msg.sender_id})"

    def _attach_or_say(
        self, session: Session, msg: IncomingMessage, report_id: int, role: str, added_by: str
    ) -> tuple[bool, str]:
        """Attach the message's photos to a report's side: whether any was kept, and the sentences that say so."""
        t = self.core.texts
        try:
            incoming = self._incoming(session, msg)
        except PhotoError as exc:
            return False, error_text(self.core, exc)
        added = repeated = 0
        refused: PhotoError | None = None
        for photo in incoming:
            try:
                if attach(session, self.core, photo, role=role, report_id=report_id, added_by=added_by):
                    added += 1
                else:
                    repeated += 1
            except PhotoError as exc:
                refused = exc
        notes = []
        if added:
            count = attachment_repo.counts(session, report_id=report_id)[role]
            notes.append(t(f"photos.attached_{role}", id=report_id, count=count))
        elif repeated:
            notes.append(t("photos.already", id=report_id))
        if refused is not None:
            notes.append(error_text(self.core, refused))
        return bool(added or repeated), _join(*notes) or ""


def _give_back_on_rollback(
    session: Session, held: HeldPhotos, platform: str, key: str, photos: list[Prepared], now: datetime
) -> None:
    """Held photos taken inside a transaction go back to waiting if it rolls back (the router tries again)."""
    if not photos:
        return

    def give_back(_: Session) -> None:
        for photo in photos:
            held.hold(platform, key, photo, now)

    event.listen(session, "after_rollback", give_back, once=True)


def _sender_key(msg: IncomingMessage) -> str:
    """Group photos wait per chat and sender (the key is an HMAC of both, like every held item)."""
    return f"{msg.chat_id}:{msg.sender_id}"


def photo_counts_line(
    session: Session, core: Core, *, report: Report | None = None, tip_id: int | None = None
) -> str:
    """The ``/查询`` card's photo line (empty when there are no photos)."""
    if report is not None:
        counts = attachment_repo.counts(session, report_id=report.id)
        if not any(counts.values()):
            return ""
        return "\n" + core.texts("photos.query_counts", id=report.id, **counts)
    if tip_id is not None:
        counts = attachment_repo.counts(session, tip_id=tip_id)
        total = sum(counts.values())
        return "\n" + core.texts("photos.tip_query_counts", id=f"T{tip_id}", count=total) if total else ""
    return ""
