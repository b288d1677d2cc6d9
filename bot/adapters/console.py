"""A terminal chat for trying the bot: play villager, whistleblower and official without any platform.

Lines starting with ``:`` switch who you are and where you write (``:群 王家沟村``, ``:私聊``, ``:干部``,
``:村民``, ``:退出``); ``:回复 3`` makes the next line a reply to the third message typed in this session, and
``:图片 路径`` makes it carry that local photo file (an empty line then sends the photo alone). With stdin piped it handles each line, prints the replies, sends the pushes those lines queued (a confirmed
broadcast) and ends at end of input. Bytes that are not UTF-8 are replaced (U+FFFD), never fatal.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.adapters.base import Adapter
from bot.bridge import Bridge
from handlers.messages import IncomingMessage, MembershipChange, QuotedMessage, Reply
from handlers.profile import Profile
from handlers.texts import Texts, clean_text

PLATFORM = "console"
OFFICIAL_ID = "official"
# A second official (a station's, 站所干部), so the console can show acceptance by someone else (验收).
INSPECTOR_ID = "inspector"
VILLAGER_ID = "villager"

_SWITCHES = {
    "群": "group",
    "group": "group",
    "私聊": "private",
    "private": "private",
    "干部": "official",
    "official": "official",
    "站所": "inspector",
    "验收员": "inspector",
    "inspector": "inspector",
    "村民": "villager",
    "villager": "villager",
    "回复": "reply",
    "reply": "reply",
    "图片": "photo",
    "照片": "photo",
    "photo": "photo",
    "退出": "quit",
    "quit": "quit",
    "exit": "quit",
}


def _configured_data_dir() -> Path:
    """The installation's data folder (``ANQUAN_DATA_DIR``), or ``data`` when the settings cannot be read."""
    try:
        from bot.config import Settings

        return Settings().data_dir
    except Exception:
        return Path("data")


@dataclass
class ConsoleState:
    """Who the terminal user is and which chat they are typing into."""

    official: bool = False
    inspector: bool = False
    private: bool = False
    village: str = ""
    reply_to: QuotedMessage | None = None
    # ``:图片 路径``: the next message carries this photo (or why it could not be read: "too_large").
    photo: bytes | None = None
    photo_error: str | None = None


# A photo file is read up to this size (the core refuses larger ones as well).
PHOTO_MAX_BYTES = 5 * 1024 * 1024


class ConsoleAdapter(Adapter):
    """Reads chat lines from a terminal or a pipe and prints the bot's replies."""

    platform = PLATFORM

    def __init__(
        self,
        profile: Profile,
        texts: Texts,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        *,
        interactive: bool | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.profile = profile
        self.texts = texts
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.interactive = self.stdin.isatty() if interactive is None else interactive
        # Reading a pipe, the program ends with the input: the pushes the last lines queued go out first.
        self.flush_outbox_on_stop = not self.interactive
        # Where files the bot sends are saved (None: the configured data folder).
        self.data_dir = data_dir
        self.state = ConsoleState(village=profile.villages[0].name)
        self._run_id = str(time.time_ns())
        self._count = 0
        self._known_groups: set[str] = set()
        self._typed: dict[int, IncomingMessage] = {}  # this session's messages by number, for :回复

    # --- what the terminal user sees -------------------------------------------------------------

    def _who(self) -> str:
        if self.state.inspector:
            return self.texts("console.who_inspector")
        return self.texts("console.who_official" if self.state.official else "console.who_villager")

    def _where(self) -> str:
        if self.state.private:
            return self.texts("console.where_private")
        return self.texts("console.where_group", unit=self.state.village)

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def send_text(self, chat_id: str, text: str, quote_message_id: str | None = None) -> None:
        """Print a message from the bot (replies and pushes alike)."""
        prefix = self.texts("console.bot_prefix", bot=self.profile.bot_name) if self.interactive else ""
        self._print(prefix + text)

    async def _deliver(self, reply: Reply) -> None:
        await self.send_text(reply.chat_id, reply.text, reply.quote_message_id)

    async def send_document(self, chat_id: str, data: bytes, filename: str) -> None:
        """Save a file the bot sends (the ledger's .xlsx) under the data folder's ``exports/`` and print its path."""
        folder = (self.data_dir or _configured_data_dir()) / "exports"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / Path(filename).name
        path.write_bytes(data)
        path.chmod(0o600)
        prefix = self.texts("console.bot_prefix", bot=self.profile.bot_name) if self.interactive else ""
        self._print(prefix + self.texts("export.console_saved", path=path))

    # --- reading ------------------------------------------------------------------------------------

    def _lines(self) -> Iterator[str]:
        """Input lines as text; bytes that are not UTF-8 become U+FFFD (a leading BOM is dropped)."""
        buffer = getattr(self.stdin, "buffer", None)
        if buffer is None:
            for line in self.stdin:
                yield clean_text(line)
            return
        first = True
        for raw in buffer:
            yield raw.decode("utf-8-sig" if first else "utf-8", errors="replace")
            first = False

    def _reader(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
        # A daemon thread: a blocked read never keeps the process alive at shutdown.
        try:
            for line in self._lines():
                loop.call_soon_threadsafe(queue.put_nowait, line)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    async def run(self, bridge: Bridge, stop: asyncio.Event) -> None:
        """Read lines until end of input, ``:退出`` or ``stop``; each line is a chat message."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._reader, args=(loop, queue), daemon=True, name="console-stdin").start()
        if self.interactive:
            self._print(
                self.texts("console.banner", bot=self.profile.bot_name, who=self._who(), where=self._where())
            )
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                get = asyncio.ensure_future(queue.get())
                await asyncio.wait({get, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    break
                line = get.result()
                if line is None:
                    break
                text = line.rstrip("\r\n")
                if text.startswith((":", "：")):
                    if not self._switch(text[1:].strip()):
                        break
                    continue
                msg = await self._message(bridge, text)
                await bridge.process(msg, self._deliver, self.send_document, self.send_image)
        finally:
            stop_wait.cancel()
        stop.set()  # end of input ends the whole program

    def _switch(self, command: str) -> bool:
        word, _, arg = command.partition(" ")
        action = _SWITCHES.get(word.lower())
        if action is None:
            self._print(self.texts("console.unknown_switch"))
            return True
        if action == "quit":
            return False
        if action == "reply":
            self._choose_reply(arg.strip())
            return True
        if action == "photo":
            self._choose_photo(arg.strip())
            return True
        if action == "group":
            if arg.strip():
                village = self.profile.village_of(arg.strip())
                if village is None:
                    choices = "、".join(v.name for v in self.profile.villages)
                    self._print(self.texts("console.unknown_village", name=arg.strip(), choices=choices))
                    return True
                self.state.village = village
            self.state.private = False
        elif action == "private":
            self.state.private = True
        else:
            self.state.official = action == "official"
            self.state.inspector = action == "inspector"
        self._print(self.texts("console.switched", who=self._who(), where=self._where()))
        return True

    def _choose_photo(self, arg: str) -> None:
        """``:图片 路径``: read a local photo file (up to the size cap) for the next message."""
        path = Path(arg).expanduser()
        try:
            with path.open("rb") as f:
                data = f.read(PHOTO_MAX_BYTES + 1)
        except (OSError, ValueError):
            self._print(self.texts("photos.console_attach_failed", name=arg))
            return
        if len(data) > PHOTO_MAX_BYTES:
            self.state.photo, self.state.photo_error = None, "too_large"
        else:
            self.state.photo, self.state.photo_error = data, None
        self._print(self.texts("photos.console_attach", name=path.name))

    async def send_image(self, chat_id: str, image: bytes) -> None:
        """Show that the bot sent a photo (a terminal cannot display it): ``[图片 N KB]``."""
        prefix = self.texts("console.bot_prefix", bot=self.profile.bot_name) if self.interactive else ""
        self._print(prefix + self.texts("photos.console_image", kb=max(1, round(len(image) / 1024))))

    def _choose_reply(self, arg: str) -> None:
        original = self._typed.get(int(arg)) if arg.isdigit() else None
        if original is None or original.chat_type != "group":
            self._print(self.texts("console.reply_unknown", n=arg))
            return
        self.state.reply_to = QuotedMessage(
            original.message_id, original.sender_id, original.sender_name, original.text
        )
        self._print(self.texts("console.reply_set", n=arg, text=original.text))

    async def _message(self, bridge: Bridge, text: str) -> IncomingMessage:
        self._count += 1
        sender = INSPECTOR_ID if self.state.inspector else OFFICIAL_ID if self.state.official else VILLAGER_ID
        if self.state.private:
            chat_id, chat_type, title = f"private:{sender}", "private", None
        else:
            chat_id, chat_type = f"group:{self.state.village}", "group"
            title = self.texts("console.where_group", unit=self.state.village)
            if chat_id not in self._known_groups:
                await bridge.membership(MembershipChange(PLATFORM, chat_id, title, joined=True))
                self._known_groups.add(chat_id)
        reply_to, self.state.reply_to = self.state.reply_to, None
        photo, photo_error = self.state.photo, self.state.photo_error
        self.state.photo = self.state.photo_error = None
        msg = IncomingMessage(
            platform=PLATFORM,
            chat_id=chat_id,
            chat_type=chat_type,  # type: ignore[arg-type]
            message_id=f"{self._run_id}-{self._count}",
            sender_id=sender,
            sender_name=self._who(),
            text=text,
            chat_title=title,
            reply_to=reply_to if chat_type == "group" else None,
            # One person plays every villager here: flood limits would lock the next "newcomer" out.
            unlimited=True,
            photo=photo,
            photo_error=photo_error,
        )
        self._typed[self._count] = msg
        return msg
