"""SQLAlchemy 2 typed models: the township's groups, officials, hazard ledger, audit log, outbox.

Every timestamp is stored as naive UTC and read back as aware UTC, so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.constants import (  # noqa: F401 - re-exported for the models' users
    BROADCAST_STATUSES,
    CORRECTION_CHATS,
    CORRECTION_INTENTS,
    CORRECTION_SOURCES,
    GROUP_KINDS,
    OPEN_STATUSES,
    OUTBOX_STATUSES,
    REPORT_STATUSES,
    REVIEW_STATUSES,
    ROLES,
    SELF_TAG_KINDS,
)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp kept as naive UTC in the database and handed out as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of all anquan tables."""


class Group(Base):
    """A group chat the bot sits in, tagged with the unit (village, station, ...) it belongs to."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("platform", "chat_id", name="uq_groups_platform_chat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(String(256))
    kind: Mapped[str | None] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Official(Base):
    """A person allowed to run official commands, identified by (platform, user id), never by name."""

    __tablename__ = "officials"
    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_officials_platform_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="station")
    unit: Mapped[str | None] = mapped_column(String(128))
    # May read tips, follow them up and close them (admins always may).
    tips: Mapped[bool] = mapped_column(Boolean, default=False)
    # A disabled official is an ordinary user until enabled again; the row and its history stay.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BindingCode(Base):
    """A one-time code an official types as `/绑定 <码>` to bind their chat account; stored hashed."""

    __tablename__ = "binding_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="station")
    unit: Mapped[str | None] = mapped_column(String(128))
    tips: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the code was revoked, or seen outside a private chat; such a code never binds.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """Who changed officials, binding codes or group tags, and when: the trail of powers granted and taken."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(160))
    detail: Mapped[str | None] = mapped_column(Text)


# The partial indexes' condition: the open statuses (OPEN_STATUSES), as SQL.
_OPEN_SQL = "status IN ('reported', 'rectifying')"


class Report(Base):
    """One entry of the hazard ledger: a hazard from a group, or an anonymous tip.

    Reporter columns are filled for group reports only; anonymous reports keep no trace of the sender.
    """

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_status", "status"),
        Index("ix_reports_village_category", "village", "category"),
        Index("ix_reports_deadline", "deadline"),
        Index("ix_reports_created_at", "created_at"),
        Index("ix_reports_rectified_at", "rectified_at"),
        # The per-sender hourly limit counts one sender's recent reports.
        Index("ix_reports_reporter", "platform", "reporter_id", "created_at"),
        # Open hazards only (待核实, 整改中): small however long the ledger grows.
        Index(
            "ix_reports_open_deadline",
            "deadline",
            postgresql_where=text(_OPEN_SQL),
            sqlite_where=text(_OPEN_SQL),
        ),
        # /清单 counts and pages open hazards from this index alone (an index-only scan).
        Index(
            "ix_reports_open_village",
            "village",
            "anonymous",
            "severity",
            "id",
            postgresql_where=text(_OPEN_SQL),
            sqlite_where=text(_OPEN_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="reported")
    text: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(128))
    village: Mapped[str | None] = mapped_column(String(128))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[str] = mapped_column(Text, default="")
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    platform: Mapped[str | None] = mapped_column(String(32))
    reporter_id: Mapped[str | None] = mapped_column(String(128))
    reporter_name: Mapped[str | None] = mapped_column(String(128))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    public_note: Mapped[str | None] = mapped_column(Text)
    rectification_note: Mapped[str | None] = mapped_column(Text)
    rectified_by: Mapped[str | None] = mapped_column(String(128))
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ledger's workflow (台账): assignment, measures, funds, supervision, acceptance and closing.
    responsible_unit: Mapped[str | None] = mapped_column(String(128))
    responsible_person: Mapped[str | None] = mapped_column(String(64))
    measures: Mapped[str | None] = mapped_column(Text)
    funds_fen: Mapped[int | None] = mapped_column(BigInteger)  # 整改资金 in fen (0.01 yuan)
    supervising_unit: Mapped[str | None] = mapped_column(String(128))
    accepted_by: Mapped[str | None] = mapped_column(String(160))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acceptance_verdict: Mapped[str | None] = mapped_column(String(16))  # passed | failed
    acceptance_note: Mapped[str | None] = mapped_column(Text)
    failed_acceptances: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    group: Mapped[Group | None] = relationship()
    five_items: Mapped[list[FiveItem]] = relationship(
        back_populates="report", order_by="FiveItem.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[ReportEvent]] = relationship(
        back_populates="report", order_by="ReportEvent.id", cascade="all, delete-orphan"
    )


class ReportEvent(Base):
    """Append-only audit trail: every change to a report, with who made it."""

    __tablename__ = "report_events"
    __table_args__ = (Index("ix_report_events_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    report: Mapped[Report] = relationship(back_populates="events")


class Tip(Base):
    """An anonymous report (a tip, or a hazard written privately): its own table and numbering, no sender.

    The key is the random public number (``T`` + six digits), and times are whole hours, so neither key,
    rowid order nor timestamps can place a tip among the group reports.
    """

    __tablename__ = "tips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="reported")
    text: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(128))
    village: Mapped[str | None] = mapped_column(String(128))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[str] = mapped_column(Text, default="")
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The code was seen outside a private chat: the next private use hands out a new one and kills this one.
    receipt_voided: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    public_note: Mapped[str | None] = mapped_column(Text)
    rectification_note: Mapped[str | None] = mapped_column(Text)
    rectified_by: Mapped[str | None] = mapped_column(String(128))
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the retention period purged the text, thread and photos of this closed tip.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list[TipEvent]] = relationship(
        back_populates="tip", order_by="TipEvent.at", cascade="all, delete-orphan"
    )


class TipEvent(Base):
    """The audit trail of a tip: officials' changes with who made them; the key is random, not a sequence."""

    __tablename__ = "tip_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    tip: Mapped[Tip] = relationship(back_populates="events")


class ProcessedMessage(Base):
    """Idempotency keys of handled platform messages, so a redelivered message files nothing new.

    Keys of private messages are keyed hashes (HMAC with a secret kept outside the database) and are
    purged after a short time, so they cannot be matched back to a sender.
    """

    __tablename__ = "processed_messages"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Broadcast(Base):
    """Publicity an official sends to many groups: previewed first, delivered only once confirmed."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(160))
    target: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    group_ids: Mapped[str] = mapped_column(Text, default="")
    reply_platform: Mapped[str | None] = mapped_column(String(32))
    reply_chat_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A push waiting to be delivered (broadcast, reminder, notice), unique by its dedup key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_platform", "status", "platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReviewItem(Base):
    """A group message the classifier was unsure about, waiting for an official to file or ignore it.

    Shown to officials as ``R<id>``. Only group messages (never private ones) become review items.
    """

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "message_id", name="uq_review_items_message"),
        Index("ix_review_items_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    message_id: Mapped[str] = mapped_column(String(128))
    sender_id: Mapped[str] = mapped_column(String(128))
    sender_name: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(160))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))

    group: Mapped[Group] = relationship()


class Correction(Base):
    """An official's (or a tipster's own) decision about a message: training data for the classifier.

    Private corrections keep no sender, chat or report link, and only the hour of their time.
    """

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    chat: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FiveItem(Base):
    """One of a major hazard's 五落实 items (目标任务, 经费物资, 机构人员, 时间要求, 安全措施和应急预案): done or not."""

    __tablename__ = "five_items"
    __table_args__ = (UniqueConstraint("report_id", "item", name="uq_five_items_report_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    item: Mapped[str] = mapped_column(String(16))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(160))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[Report] = relationship(back_populates="five_items")


class Attachment(Base):
    """A photo kept as evidence: before (整改前) or after (整改后) for a report, or attached to a tip.

    The file lives content-addressed (sha256) under the data folder with its EXIF stripped. The key is random and,
    for tips, the time is the hour and nobody is named, so an attachment can't place a tip among other rows.
    """

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"), index=True)
    role: Mapped[str] = mapped_column(String(8))  # before | after
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(32))
    added_by: Mapped[str | None] = mapped_column(String(160))  # officials and group reporters; never for tips
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TipMessage(Base):
    """One entry of a tip's follow-up thread: an official's question or the tipster's supplement.

    The tipster's side names nobody (``author`` is None) and keeps only the hour; keys are random.
    """

    __tablename__ = "tip_messages"
    __table_args__ = (UniqueConstraint("tip_id", "seq", name="uq_tip_messages_tip_seq"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # question | answer
    author: Mapped[str | None] = mapped_column(String(160))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the tipster saw this question (hour only)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TipReward(Base):
    """The reward record of a verified tip (《安全生产领域举报奖励办法》): amount, payer, claim deadline, status."""

    __tablename__ = "tip_rewards"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"), primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(16))  # major_hazard | violation | general
    fine_fen: Mapped[int | None] = mapped_column(BigInteger)
    computed_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    override_reason: Mapped[str | None] = mapped_column(Text)
    first_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_by: Mapped[str] = mapped_column(String(160))
    department: Mapped[str] = mapped_column(String(128))
    claim_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | paid | expired | void
    status_note: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when another, earlier-accepted tip is about the same matter: that one has the priority.
    matter_of: Mapped[int | None] = mapped_column(ForeignKey("tips.id"))


class WebLoginToken(Base):
    """A one-time link to the web dashboard (``/后台``): only the token's SHA-256 is kept; 10 minutes, used once."""

    __tablename__ = "web_login_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A logged-in browser of an official: only the session id's SHA-256 is kept; 8 hours unless ended first."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
