"""The services a message handler needs, bundled once by ``bot/app.py`` and passed down explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from handlers.broadcasts import load_library
from handlers.classifier import Classifier
from handlers.profile import Profile
from handlers.similarity import DuplicateRules, SightingMemo
from handlers.texts import Texts
from storage.models import Official, utcnow


@dataclass
class Core:
    """Everything the core decides with: database sessions, classifier, wording, the town, the clock."""

    sessions: sessionmaker[Session]
    classifier: Classifier
    texts: Texts
    profile: Profile
    secret: bytes
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    clock: Callable[[], datetime] = utcnow
    publicity: dict[str, str] = field(default_factory=load_library)
    duplicates: DuplicateRules = field(default_factory=DuplicateRules.load)
    # Descriptions of recent reports for the duplicate check, so each old text is parsed once.
    sightings: SightingMemo = field(default_factory=SightingMemo, repr=False)
    # The data folder: photo evidence is kept under ``<data_dir>/photos``. None: this core keeps no photo files.
    data_dir: Path | None = None

    def local_date(self, when: datetime | None) -> str:
        """A timestamp as the township's local date, e.g. 2026-11-28."""
        return when.astimezone(self.tz).strftime("%Y-%m-%d") if when else ""


def official_actor(official: Official) -> str:
    """How an official appears in the audit trail: name plus platform account."""
    return f"{official.name}({official.platform}:{official.user_id})"
