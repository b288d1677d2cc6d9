"""Configuration from ``ANQUAN_*`` environment variables and an optional TOML file named by ``ANQUAN_CONFIG``.

Environment variables win over the TOML file; both are validated at start with clear errors.
Tokens and the secret key are ``SecretStr`` and the database password is masked, so no repr, error or log shows them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

KNOWN_PLATFORMS = ("console", "telegram", "wechaty", "wecom")
DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org/bot"


class _TomlFile(TomlConfigSettingsSource):
    """The ANQUAN_CONFIG file; a UTF-8 BOM (Windows Notepad writes one) is accepted."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        import tomllib

        return tomllib.loads(Path(file_path).read_bytes().decode("utf-8-sig"))


class Settings(BaseSettings):
    """Everything the running bot and the CLI need to know about this installation."""

    model_config = SettingsConfigDict(env_prefix="ANQUAN_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""
    platforms: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["console"])
    timezone: str = "Asia/Shanghai"
    # The township's data files; None means the shipped one. Which file is in force (with the command line's
    # options and the profile's own calendar) is decided in one place, bot.datafiles.resolve, which checks them.
    profile: Path | None = None
    texts: Path | None = None
    calendar: Path | None = None
    rules: Path | None = None
    userdict: Path | None = None
    publicity: Path | None = None
    model: Path | None = None  # a township's retrained statistical model (default: the shipped one)
    secret_key: SecretStr | None = None
    log_level: str | None = None

    telegram_token: SecretStr | None = None
    telegram_base_url: str = DEFAULT_TELEGRAM_BASE_URL
    telegram_proxy: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = 8443

    wecom_base_url: str = "https://qyapi.weixin.qq.com"

    wechaty_endpoint: str | None = None
    wechaty_token: SecretStr | None = None
    wechaty_min_interval: float = Field(default=3.0, ge=0)
    wechaty_jitter: float = Field(default=2.0, ge=0)
    wechaty_daily_cap: int = Field(default=500, ge=1)
    # Transport to the gateway: TLS verified against this CA file (PEM; turns TLS on), or against the system's
    # CAs with wechaty_tls; the name expected in the gateway's certificate when it is not the endpoint's host;
    # wechaty_insecure allows plaintext to a non-loopback address (a private network), with a warning.
    wechaty_tls: bool = False
    wechaty_tls_ca: Path | None = None
    wechaty_tls_server_name: str | None = None
    wechaty_insecure: bool = False

    # The web dashboard (挂图作战): started by ``anquan run`` when web_listen (host:port) is set; web_base_url is
    # where officials reach it (the /后台 links; https turns on the Secure cookie).
    web_listen: str | None = None
    web_base_url: str = "http://127.0.0.1:8080"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("ANQUAN_CONFIG")
        if config_file:
            if not Path(config_file).is_file():
                raise ValueError(f"ANQUAN_CONFIG 指向的配置文件不存在：{config_file}")
            sources.append(_TomlFile(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("platforms", mode="before")
    @classmethod
    def _split_platforms(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            value = [p for p in (part.strip().lower() for part in value.split(",")) if p]
        unknown = [p for p in value if p not in KNOWN_PLATFORMS]
        if unknown:
            raise ValueError(f"unknown platform(s) {unknown}; choose from {', '.join(KNOWN_PLATFORMS)}")
        if not value:
            raise ValueError("ANQUAN_PLATFORMS is empty")
        return list(value)

    @field_validator("wechaty_tls_ca", mode="before")
    @classmethod
    def _check_wechaty_tls_ca(cls, value: Any) -> Path | None:
        if value is None or not str(value).strip():
            return None
        value = Path(str(value).strip())
        if not value.is_file():
            raise ValueError(f"ANQUAN_WECHATY_TLS_CA 指向的 CA 证书文件不存在：{value}")
        return value

    @field_validator("wechaty_tls_server_name")
    @classmethod
    def _check_wechaty_tls_server_name(cls, value: str | None) -> str | None:
        import ipaddress

        value = (value or "").strip().rstrip(".").removeprefix("[").removesuffix("]")
        if not value:
            return None
        bad = any(c.isspace() or c in "/@" for c in value)
        if ":" in value:  # only an IPv6 address may have colons (a port does not belong here)
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                bad = True
        if bad:
            raise ValueError(
                f"ANQUAN_WECHATY_TLS_SERVER_NAME 应是网关证书里的域名或 IP（如 wechaty-gateway.internal），"
                f"当前是 {value!r}"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str | None) -> str | None:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        if value is None or not value.strip():
            return None
        if value.strip().upper() not in levels:
            raise ValueError(f"日志级别不能是 {value!r}，只能是 {'、'.join(levels)} 之一（或不设置）")
        return value.strip().upper()

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def db_url(self) -> str:
        """The database URL; by default a SQLite file in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'anquan.db'}"

    @property
    def db_url_display(self) -> str:
        """The database URL fit for printing and logging: its password, if any, masked."""
        from storage.db import masked_url

        return masked_url(self.db_url)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The database and proxy URLs may carry a password; the tokens are SecretStr already.
        from storage.db import masked_url

        for name, value in super().__repr_args__():
            yield name, (masked_url(value) if name in ("database_url", "telegram_proxy") and value else value)

    @property
    def tz(self) -> ZoneInfo:
        """The township's time zone."""
        return ZoneInfo(self.timezone)

    def secret(self) -> bytes:
        """The key for hashing private-chat message ids: ANQUAN_SECRET_KEY, or a file made once in the data folder.

        It is kept outside the database so that the database alone can never be matched back to a sender.
        """
        if self.secret_key and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()
