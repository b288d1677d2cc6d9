"""Platform-neutral message types that adapters build and the core answers.

They hold plain strings only (no SDK objects), so every platform speaks the same language to the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

ChatType = Literal["group", "private"]

# Display names longer than this are cut (the storage columns hold 128; a Telegram full name can be 129+).
NAME_MAX = 128


def _cut_name(message: object) -> None:
    name = getattr(message, "sender_name", "")
    if len(name) > NAME_MAX:
        object.__setattr__(message, "sender_name", name[:NAME_MAX])


@dataclass(frozen=True)
class QuotedMessage:
    """The group message an incoming message replies to (the platform's quote), as the core sees it."""

    message_id: str
    sender_id: str
    sender_name: str
    text: str

    def __post_init__(self) -> None:
        """Cut an over-long display name so it always fits where it is stored."""
        _cut_name(self)


@dataclass(frozen=True)
class IncomingMessage:
    """One text message as the core sees it, whatever platform it came from."""

    platform: str
    chat_id: str
    chat_type: ChatType
    message_id: str
    sender_id: str
    text: str
    sender_name: str = ""
    chat_title: str | None = None
    sent_at: datetime | None = None
    # The message this one replies to, when the platform says so (group chats only).
    reply_to: QuotedMessage | None = None
    # The bot's own username on this platform, when commands can be addressed to one bot (``/cmd@name``).
    bot_username: str | None = None
    # Set by an adapter whose one local user plays every villager (the console): no flood limits apply.
    unlimited: bool = False
    # A photo sent with the message (its caption is ``text``), downloaded by the adapter before dispatch.
    photo: bytes | None = field(default=None, repr=False)
    # Why the adapter could not hand over the message's photo: "too_large" (over its size cap) or "failed".
    photo_error: str | None = None
    # The text of the bot's own message this one replies to (a report card naming ``#23``), if any.
    reply_to_bot: str | None = None

    def __post_init__(self) -> None:
        """Cut an over-long display name so it always fits where it is stored."""
        _cut_name(self)

    @property
    def has_photo(self) -> bool:
        """Whether the message came with a photo (handed over, or one the adapter could not fetch)."""
        return self.photo is not None or self.photo_error is not None


class DocumentText(str):
    """A command's text answer that also carries a file (name, bytes) to send after it.

    Command handlers return plain text and the dispatcher wraps it in a ``Reply``; a ``DocumentText`` travels that
    same way, and ``Reply`` lifts its file into ``Reply.document``.
    """

    document: tuple[str, bytes]

    def __new__(cls, text: str, document: tuple[str, bytes]) -> DocumentText:
        """``text`` with the file ``document`` (file name, contents) attached."""
        obj = super().__new__(cls, text)
        obj.document = document
        return obj


@dataclass(frozen=True)
class Reply:
    """A message the core wants sent back into the chat the incoming message came from."""

    chat_id: str
    text: str
    quote_message_id: str | None = None
    # A private reply carrying a receipt code: if the platform refuses it, the core holds it in memory.
    receipt: bool = False
    # A file sent after the text (file name, contents), e.g. the ledger's .xlsx for /台账.
    document: tuple[str, bytes] | None = None
    # A photo sent after the text (an empty text sends the photo alone), e.g. a report's evidence for /照片.
    image: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Take the file a ``DocumentText`` carries, and keep the text a plain string."""
        if isinstance(self.text, DocumentText):
            if self.document is None:
                object.__setattr__(self, "document", self.text.document)
            object.__setattr__(self, "text", str(self.text))


@dataclass(frozen=True)
class MembershipChange:
    """The bot was added to or removed from a group chat."""

    platform: str
    chat_id: str
    title: str | None
    joined: bool


@dataclass(frozen=True)
class Outcome:
    """What handling one message's content came to, from intake, a command or the photo desk alike.

    ``reply`` is the answer's text (quoted back into a group, a receipt in private), or a command's ready-made
    replies (``/照片``'s photos); the dispatcher turns it into a ``DispatchResult``.
    """

    outcome: str
    reply: str | list[Reply] | None = None
    report_id: int | None = None
    # The tip filed from a private message (never a report id): its held photos are attached after filing.
    tip_id: int | None = None


@dataclass(frozen=True)
class DispatchResult:
    """What the core decided about one message: the replies to send, and why (for logs and tests)."""

    replies: list[Reply] = field(default_factory=list)
    outcome: str = "ignored"
    report_id: int | None = None
