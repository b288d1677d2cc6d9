"""What every ``anquan`` subcommand needs: settings and the database, with Chinese errors instead of tracebacks.

A bad configuration ends in one line, ``错误：...``, that names the setting and how to fix it: settings that do not
validate, a log level that does not exist, a data folder that is a file or cannot be written, a township data
file (profile, wording, calendar, rules, dictionary, publicity, model) that is missing, not UTF-8 or broken, and a database that cannot be opened
(nonsense or unsupported URL, no driver, unreachable, missing). The first use of a SQLite file says which one.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from bot.config import Settings

if TYPE_CHECKING:
    from bot.app import Database
    from bot.datafiles import DataFiles

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
POSTGRES_DRIVER_HINT = (
    "请安装 PostgreSQL 驱动：.venv/bin/pip install 'psycopg[binary]'（或 pip install -e '.[postgres]'）"
)
DATABASE_URL_EXAMPLE = "例如 sqlite:///data/anquan.db 或 postgresql+psycopg://用户:密码@主机:5432/库名"


class ConfigError(click.ClickException):
    """A configuration mistake, shown as one ``错误：`` line (no "Error:", no traceback); exit code 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``错误：<message>`` on standard error."""
        click.echo(f"错误：{self.format_message()}", err=True, file=file)


def load_settings(*, data_files: bool = True) -> Settings:
    """The installation's settings, checked, or a ConfigError naming the setting that is wrong.

    With ``data_files`` the township's data files in force are resolved and validated too (``check_data_files``),
    so every command (not only ``anquan run``) reports a missing or broken file the same way.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(_describe_validation(exc)) from None
    except ValueError as exc:
        raise ConfigError(_describe_settings_error(exc)) from None
    check_log_level(settings)
    if data_files:
        check_data_files(settings)
    return settings


def _describe_settings_error(exc: ValueError) -> str:
    """A settings error that is not a field's: most often the ANQUAN_CONFIG file itself."""
    import tomllib

    config_file = os.environ.get("ANQUAN_CONFIG")
    if config_file and isinstance(exc, UnicodeDecodeError):
        return (
            f"配置文件 {config_file}（ANQUAN_CONFIG）不是 UTF-8 编码（可能是 GBK）："
            "请用 UTF-8 编码保存（记事本“另存为”时编码选 UTF-8）"
        )
    if config_file and isinstance(exc, tomllib.TOMLDecodeError):
        bom = Path(config_file).read_bytes().startswith(b"\xef\xbb\xbf")
        hint = "文件开头有 BOM：请用“UTF-8”（不带 BOM）重新保存" if bom else "请按 TOML 格式改正"
        return f"配置文件 {config_file}（ANQUAN_CONFIG）格式有误：{exc}；{hint}"
    return f"配置有误：{exc}"


def _describe_validation(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__")
    message = str(first.get("msg", "")).removeprefix("Value error, ")
    name = f"ANQUAN_{field.upper()}" if field else "配置"
    more = f"（另有 {exc.error_count() - 1} 处）" if exc.error_count() > 1 else ""
    return f"配置有误：{name}：{message}{more}；请改正这个环境变量或 ANQUAN_CONFIG 配置文件里的值"


def check_log_level(settings: Settings) -> None:
    """``ANQUAN_LOG_LEVEL`` must be a level the logging module knows."""
    level = settings.log_level
    if level is not None and level.strip().upper() not in LOG_LEVELS:
        raise ConfigError(
            f"配置有误：ANQUAN_LOG_LEVEL 不能是 {level!r}，只能是 {'、'.join(LOG_LEVELS)} 之一（或不设置）"
        )


DATA_FILE_OPTIONS = "anquan.data_files"  # the click context's meta key for ``anquan --profile FILE ...``


def data_files(settings: Settings) -> DataFiles:
    """The data files in force: the ``anquan`` command line's options over ``settings`` (see bot.datafiles).

    A file that was asked for but cannot be used is a ConfigError naming the option or setting.
    """
    from bot.datafiles import DataFileError, resolve

    ctx = click.get_current_context(silent=True)
    options = ctx.meta.get(DATA_FILE_OPTIONS, {}) if ctx is not None else {}
    try:
        return resolve(settings, **options)
    except DataFileError as exc:
        raise ConfigError(str(exc)) from None


def check_data_files(settings: Settings) -> DataFiles:
    """Resolve and read the data files in force; a missing, non-UTF-8 or broken one is a ConfigError.

    The profile, wording, calendar and publicity library are read in full (the keyword rules are checked when
    the classifier loads). Checked once per process for the same files (a command may load its settings twice).
    """
    files = data_files(settings)
    _check_contents(files)
    return files


@functools.lru_cache(maxsize=8)
def _check_contents(files: DataFiles) -> None:
    from bot.datafiles import DataFileError
    from handlers.profile import ProfileError
    from handlers.texts import TextsError
    from scheduler.calendar import CalendarError

    try:
        files.load_profile()
    except ProfileError as exc:
        raise ConfigError(f"{exc}{files.hint('profile')}") from None
    try:
        texts = files.load_texts()
    except TextsError as exc:
        raise ConfigError(f"{exc}{files.hint('texts')}") from None
    try:
        files.load_calendar(texts)  # the calendar takes its labels from the wording just read
    except CalendarError as exc:
        raise ConfigError(f"{exc}{files.hint('calendar')}") from None
    try:
        files.load_publicity()
    except DataFileError as exc:
        raise ConfigError(str(exc)) from None


def check_data_dir(settings: Settings) -> None:
    """The data folder must be a folder we can write (it holds the secret key and the default SQLite file)."""
    data_dir = settings.data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(
            f"数据文件夹 {data_dir} 不是文件夹：请把 ANQUAN_DATA_DIR 设为一个文件夹（不存在会自动创建）"
        )
    existing = next((p for p in (data_dir, *data_dir.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"数据文件夹 {data_dir} 无法创建：{existing} 是文件；请改 ANQUAN_DATA_DIR")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"数据文件夹 {data_dir} 不能写入（{existing} 没有写权限）：请改用可写的文件夹（ANQUAN_DATA_DIR）或改权限"
        )


def new_sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file that opening the database will create, or None (it exists, or it is not SQLite)."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(settings.db_url)
    except Exception:
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    return None if path.exists() else path.resolve()


def stderr_is_terminal() -> bool:
    """Whether a person is watching standard error (notices are for them, not for scripts parsing output)."""
    return sys.stderr.isatty()


def announce_new_database(path: Path | None) -> None:
    """Tell the person at the terminal which SQLite file was just created (so a stray ``./data`` is noticed)."""
    if path is not None and stderr_is_terminal():
        click.echo(
            f"已新建数据库文件：{path}（要用别的数据库，请设置 ANQUAN_DATA_DIR 或 ANQUAN_DATABASE_URL）",
            err=True,
        )


def describe_database_error(exc: BaseException, settings: Settings) -> str:
    """One Chinese line for a database that cannot be opened, naming the URL (password masked) and the fix."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    shown = settings.db_url_display
    prefix = f"无法打开数据库 {shown}："
    try:
        url = make_url(settings.db_url)
    except Exception:
        return f"{prefix}数据库地址无法解析；请改 ANQUAN_DATABASE_URL（{DATABASE_URL_EXAMPLE}）"
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql") or isinstance(exc, NoSuchModuleError):
        return f"{prefix}不支持 {backend} 数据库，只支持 SQLite 和 PostgreSQL；请改 ANQUAN_DATABASE_URL（{DATABASE_URL_EXAMPLE}）"
    if isinstance(exc, ModuleNotFoundError | ImportError):
        return (
            f"{prefix}没有安装 PostgreSQL 驱动（{getattr(exc, 'name', None) or exc}）；{POSTGRES_DRIVER_HINT}"
        )
    if isinstance(exc, ArgumentError):
        return f"{prefix}地址写法不对；请改 ANQUAN_DATABASE_URL（{DATABASE_URL_EXAMPLE}）"
    from storage.db import scrub_password

    detail = scrub_password(str(getattr(exc, "orig", None) or exc), settings.db_url)
    low = detail.lower()
    if isinstance(exc, OperationalError) and backend == "postgresql":
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        if "does not exist" in low and "database" in low:
            return (
                f"{prefix}数据库 {url.database} 不存在；请先建库（createdb {url.database}）"
                "或改 ANQUAN_DATABASE_URL 里的库名"
            )
        if "password authentication failed" in low or "no password supplied" in low:
            return f"{prefix}用户名或密码不对（{url.username}）；请改 ANQUAN_DATABASE_URL"
        if "role" in low and "does not exist" in low:
            return f"{prefix}数据库用户 {url.username} 不存在；请改 ANQUAN_DATABASE_URL"
        if any(
            w in low
            for w in ("refused", "timeout", "timed out", "could not translate", "no route", "unreachable")
        ):
            return (
                f"{prefix}连不上 {where}；请确认 PostgreSQL 在运行、主机和端口正确，或改 ANQUAN_DATABASE_URL"
            )
    if backend == "sqlite" and (
        isinstance(exc, OSError) or "unable to open" in low or "readonly" in low or "read-only" in low
    ):
        return (
            f"{prefix}数据库文件不能打开或写入（{detail.splitlines()[0] if detail else type(exc).__name__}）；"
            "请确认数据文件夹可写（ANQUAN_DATA_DIR）或改 ANQUAN_DATABASE_URL"
        )
    first = detail.splitlines()[0] if detail else type(exc).__name__
    return f"{prefix}{first}；请检查 ANQUAN_DATABASE_URL"


def open_db(settings: Settings) -> Database:
    """The migrated database, or a ConfigError naming the URL (never its password) and the fix."""
    from bot.app import open_database

    if not settings.database_url:  # the default SQLite file lives in the data folder
        check_data_dir(settings)
    created = new_sqlite_file(settings)
    try:
        db = open_database(settings)
    except Exception as exc:
        raise ConfigError(describe_database_error(exc, settings)) from None
    announce_new_database(created)
    return db
