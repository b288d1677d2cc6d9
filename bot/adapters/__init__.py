"""Platform adapters: each translates one chat platform to and from the core's message types.

``build_adapter`` is the one place that maps a platform name to its adapter; SDKs are imported only when
their platform is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.adapters.base import Adapter
    from bot.config import Settings
    from handlers.context import Core


def build_adapter(name: str, settings: Settings, core: Core) -> Adapter:
    """The adapter for platform ``name`` (one of ``bot.config.KNOWN_PLATFORMS``)."""
    if name == "console":
        from bot.adapters.console import INSPECTOR_ID, OFFICIAL_ID, PLATFORM, ConsoleAdapter
        from storage.officials import add_official

        # The terminal user can switch to being an official; register that account once.
        with core.sessions.begin() as session:
            add_official(session, PLATFORM, OFFICIAL_ID, core.texts("console.official_name"), role="admin")
            # A second one, a station's, to show acceptance by someone other than who rectified.
            add_official(
                session, PLATFORM, INSPECTOR_ID, core.texts("console.inspector_name"), role="station"
            )
        return ConsoleAdapter(core.profile, core.texts)
    if name == "telegram":
        from bot.adapters.telegram import TelegramAdapter

        return TelegramAdapter.from_settings(settings)
    if name == "wechaty":
        from bot.adapters.wechaty import WechatyAdapter

        return WechatyAdapter.from_settings(settings)
    if name == "wecom":
        from bot.adapters.wecom import WecomAdapter

        return WecomAdapter(settings.wecom_base_url)
    raise ValueError(f"unknown platform {name!r}")
