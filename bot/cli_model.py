"""``anquan model train``: retrain the classifier's statistical second opinion from labeled data.

Attached to the main command group in ``bot/cli.py`` with ``main.add_command(model)``. Every path is an
option resolved against the current directory; the defaults fit a checkout with ``../shared`` beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli_common import data_files, load_settings, open_db

if TYPE_CHECKING:
    from handlers.classifier import Classifier
    from handlers.model_training import Example

DEFAULT_OUT = Path("handlers/data/model.json.gz")
DEFAULT_CORPORA = (Path("../shared/data/dev.jsonl"), Path("tests/fixtures/classifier_cases.jsonl"))
DEFAULT_TRAIN_DIR = Path("tests/corpora/train")
DEFAULT_CRITERIA = Path("../shared/data/real/major_hazard_criteria.tsv")
DEFAULT_LCCC = Path("../shared/data/real/chatter_lccc.tsv")
# The frozen test split: nobody trains or tunes on it.
FROZEN_DIR = Path("tests/corpora/frozen")

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _check_not_frozen(path: Path) -> None:
    """Refuse the frozen test split, however the path is spelled."""
    frozen = FROZEN_DIR.resolve()
    if path.resolve().is_relative_to(frozen):
        raise click.ClickException(f"{path} 属于冻结的测试集（{FROZEN_DIR}），不能用来训练")


def _default_corpora() -> list[Path]:
    found = [p for p in DEFAULT_CORPORA if p.is_file()]
    if DEFAULT_TRAIN_DIR.is_dir():
        found.extend(sorted(DEFAULT_TRAIN_DIR.glob("*.jsonl")))
    return found


def _corrections() -> list[Example]:
    """The township's corrections from the configured database; none while storage has no corrections yet."""
    from handlers.model_training import examples_from_corrections

    try:
        from storage.corrections import list_corrections  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        click.echo("（数据库还不支持纠错记录，跳过 --corrections）", err=True)
        return []
    db = open_db(load_settings())
    try:
        with db.sessions() as session:
            return examples_from_corrections(list_corrections(session))
    finally:
        db.engine.dispose()


def _rules_classifier() -> Classifier:
    """This installation's rules alone (its rules file, user dictionary and village names), without a model:
    they normalise the training texts and show which messages the model would decide alone."""
    from handlers.profile import ProfileError

    files = data_files(load_settings())
    try:
        return files.load_classifier(files.load_profile().place_names(), use_model=False)
    except (ProfileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("model")
def model() -> None:
    """识别模型（规则之外的统计“第二意见”）。"""


@model.command("train")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="模型文件写到哪里（gzip 压缩的 JSON）",
)
@click.option(
    "--corpus",
    "corpora",
    type=_FILE,
    multiple=True,
    help="带标注的 JSONL 语料（可多次使用；不写则用 dev.jsonl、classifier_cases.jsonl 和 tests/corpora/train/*.jsonl）",
)
@click.option(
    "--lccc",
    type=_FILE,
    default=None,
    help=f"闲聊语料 TSV（默认 {DEFAULT_LCCC}；表头之后第 0、5、10… 行留作测试，从不训练）",
)
@click.option(
    "--criteria", type=_FILE, default=None, help=f"重大事故隐患判定标准 TSV（默认 {DEFAULT_CRITERIA}）"
)
@click.option("--corrections", is_flag=True, help="加入本镇数据库里干部纠正过的消息")
@click.option(
    "--score-only",
    is_flag=True,
    help="自动登记阈值只按全部消息的袋外分数校准（默认还要求在规则判为闲聊、由模型单独决定的消息上达到精确率）",
)
def train(
    out: Path,
    corpora: tuple[Path, ...],
    lccc: Path | None,
    criteria: Path | None,
    corrections: bool,
    score_only: bool,
) -> None:
    """训练识别模型：按来源统计条数，交叉验证校准两个阈值，写出模型文件。"""
    from handlers.model_training import (
        read_corpus,
        read_criteria,
        read_lccc,
        rules_alone_mask,
        train_model,
        write_artifact,
    )

    corpus_files = list(corpora) or _default_corpora()
    lccc = lccc or (DEFAULT_LCCC if DEFAULT_LCCC.is_file() else None)
    criteria = criteria or (DEFAULT_CRITERIA if DEFAULT_CRITERIA.is_file() else None)
    for path in [*corpus_files, *(p for p in (lccc, criteria) if p)]:
        _check_not_frozen(path)
    if not corpus_files:
        raise click.ClickException("没有找到带标注的语料，请用 --corpus 指定")
    examples: list[Example] = []
    heldout: list[str] = []
    try:
        for path in corpus_files:
            examples.extend(read_corpus(path))
        if criteria:
            examples.extend(read_criteria(criteria))
        if lccc:
            lccc_train, heldout = read_lccc(lccc)
            examples.extend(lccc_train)
        if corrections:
            examples.extend(_corrections())
        click.echo("训练中……（需要一两分钟）", err=True)
        classifier = _rules_classifier()
        alone = None if score_only else rules_alone_mask(classifier)
        result = train_model(examples, heldout, normalize=classifier.normalize, alone_mask=alone)
    except ImportError as exc:
        raise click.ClickException("训练需要 scikit-learn：pip install -e '.[train]'") from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in result.lines:
        click.echo(line)
    loaded = write_artifact(result.artifact, out)
    click.echo(f"模型已写入 {out}（{out.stat().st_size / 1024:.0f} KB，版本 {loaded.version}）")
