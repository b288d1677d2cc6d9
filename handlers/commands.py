"""Command parsing and the command registry, the same for every platform.

Accepts ``/`` and full-width ``／``, with or without a space before the argument (``/整改完成23``), and
Telegram's ``/done@some_bot 23`` form (the ``@`` name is kept, so the router can ignore commands for other
bots). Permission is checked by the registry before a handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

_COMMAND_RE = re.compile(
    r"^[/／]\s*(?P<name>[A-Za-z_]+|[\u4e00-\u9fff]+)(?:@(?P<bot>[A-Za-z0-9_]+))?(?P<args>.*)$",
    re.DOTALL,
)


@dataclass(frozen=True)
class ParsedCommand:
    """A command name (without the slash) and the rest of the message."""

    name: str
    args: str
    # The bot the command was addressed to (``/close@that_bot``), if any; not part of what the command is.
    addressee: str | None = field(default=None, compare=False)

    def for_other_bot(self, own_username: str | None) -> bool:
        """True when the command names a bot that is not us (case-insensitive); False if we don't know our name."""
        if self.addressee is None or not own_username:
            return False
        return self.addressee.lower() != own_username.lstrip("@").lower()


def parse_command(text: str) -> ParsedCommand | None:
    """Split a command message into name and arguments; None if the text is not a command."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "/／":
        return None
    match = _COMMAND_RE.match(stripped)
    if not match:
        return None
    name = match.group("name")
    if name.isascii():
        name = name.lower()
    # Only full-width spaces become ASCII here; numbers are read by handlers.arguments, and free text (notes,
    # broadcasts) keeps its Chinese punctuation exactly as typed.
    args = match.group("args").replace("\u3000", " ").strip()
    return ParsedCommand(name=name, args=args, addressee=match.group("bot"))


@dataclass(frozen=True)
class Command:
    """One chat command: its Chinese name, ASCII aliases, handler and who may use it."""

    name: str
    handler: Callable[..., Any]
    aliases: tuple[str, ...] = ()
    official_only: bool = False
    args_hint: str = ""


@dataclass
class CommandRegistry:
    """Commands by name and alias, in the order they were added (the help order)."""

    _commands: list[Command] = field(default_factory=list)
    _by_name: dict[str, Command] = field(default_factory=dict)

    def add(
        self,
        name: str,
        handler: Callable[..., Any],
        *,
        aliases: Iterable[str] = (),
        official_only: bool = False,
        args_hint: str = "",
    ) -> Command:
        """Register a command; names and aliases must be unique."""
        cmd = Command(name, handler, tuple(aliases), official_only, args_hint)
        for key in (name, *cmd.aliases):
            if key in self._by_name:
                raise ValueError(f"command name {key!r} registered twice")
            self._by_name[key] = cmd
        self._commands.append(cmd)
        return cmd

    def find(self, name: str) -> Command | None:
        """The command with this name or alias."""
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Command]:
        """The commands in help order."""
        return iter(self._commands)
