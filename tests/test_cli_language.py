"""The operator CLI's own lines (``registry user …``, ``registry db status``, the
migration lines) are said in Chinese by default and in English with ``--lang en`` or
``REGISTRY_LANG=en``, from the one zh/en message table, like its errors."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from registry.cluster import Cluster
from registry.messages import render
from registry.settings import Settings
from web.cli import app
from web.cli_lang import set_cli_lang


@pytest.fixture(autouse=True)
def _chinese_afterwards() -> Iterator[None]:
    """The chosen language is process-wide: leave it as the next test expects (zh)."""
    yield
    set_cli_lang("zh")


def test_user_commands_speak_chinese_by_default_and_english_with_lang_en(
    db: Settings, monkeypatch: pytest.MonkeyPatch, conn: psycopg.Connection
) -> None:
    assert db.database_url
    monkeypatch.setenv("DATABASE_URL", db.database_url)
    monkeypatch.setenv("REGISTRY_PASSWORD", "cli-password-123")
    monkeypatch.delenv("REGISTRY_LANG", raising=False)
    runner = CliRunner()

    zh = runner.invoke(app, ["user", "add", "li.na", "--role", "viewer", "--name", "李娜"])
    assert zh.exit_code == 0, zh.output
    assert zh.output.strip() == "已创建用户 li.na，角色 viewer"
    en = runner.invoke(app, ["--lang", "en", "user", "add", "chen.yu", "--role", "officer"])
    assert en.exit_code == 0, en.output
    assert en.output.strip() == "user chen.yu created with role officer"

    assert runner.invoke(app, ["user", "disable", "chen.yu"]).output.strip() == "已停用用户 chen.yu"
    listing = runner.invoke(app, ["user", "list"])
    assert listing.exit_code == 0, listing.output
    lines = {line.split()[0]: line for line in listing.output.splitlines()}
    assert "已停用" in lines["chen.yu"] and "最近登录 从未" in lines["chen.yu"]
    assert "正常" in lines["li.na"] and "李娜" in lines["li.na"]
    assert "disabled" not in listing.output and "last login" not in listing.output

    # REGISTRY_LANG chooses English as --lang does
    monkeypatch.setenv("REGISTRY_LANG", "en")
    english = runner.invoke(app, ["user", "list"])
    lines = {line.split()[0]: line for line in english.output.splitlines()}
    assert "disabled" in lines["chen.yu"] and "last login never" in lines["chen.yu"]
    assert "active" in lines["li.na"]
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in english.output.replace("李娜", ""))
    set_role = runner.invoke(app, ["user", "set-role", "li.na", "planner"])
    assert set_role.output.strip() == "user li.na now has role planner"

    # a generated password is shown once, after the language's colon
    monkeypatch.delenv("REGISTRY_LANG")
    monkeypatch.delenv("REGISTRY_PASSWORD")
    generated = runner.invoke(app, ["user", "set-password", "li.na"])
    assert generated.exit_code == 0, generated.output
    changed, shown = generated.output.strip().splitlines()
    assert changed == "用户 li.na 的密码已更改" and shown.startswith("密码（只显示这一次，请记下）：")


def test_db_status_and_the_external_server_line_follow_the_language(
    cluster: Cluster, cluster_settings: Settings, db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGISTRY_LANG", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(cluster_settings.data_dir))
    monkeypatch.setenv("REGISTRY_PG_PORT", str(cluster_settings.pg_port))
    runner = CliRunner()
    st = cluster.status()
    where = {"pid": st.pid, "port": st.port, "data": st.data_dir}

    zh = runner.invoke(app, ["db", "status"])
    assert zh.exit_code == 0, zh.output
    assert zh.output.strip() == render("db_status_running", where, "zh")
    assert zh.output.startswith(f"数据库正在运行（进程 {st.pid}）；端口 {st.port}")
    en = runner.invoke(app, ["--lang", "en", "db", "status"])
    assert en.output.strip() == f"database running (pid {st.pid}); port {st.port}; data {st.data_dir}"

    # with DATABASE_URL no local cluster is managed, and the CLI says so in its language
    assert db.database_url
    monkeypatch.setenv("DATABASE_URL", db.database_url)
    assert runner.invoke(app, ["db", "up"]).output.strip() == render("cli_db_external", {}, "zh")
    assert runner.invoke(app, ["--lang", "en", "db", "down"]).output.strip() == (
        "DATABASE_URL is set: using that server; no local cluster is managed."
    )


def test_migrate_says_what_it_applied_in_the_language(db: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert db.database_url
    monkeypatch.setenv("DATABASE_URL", db.database_url)
    monkeypatch.delenv("REGISTRY_LANG", raising=False)
    runner = CliRunner()
    zh = runner.invoke(app, ["migrate"])
    assert zh.exit_code == 0, zh.output
    assert zh.output.splitlines() == ["已应用迁移：无（已是最新）", "区县边界变更：0"]
    en = runner.invoke(app, ["--lang", "en", "migrate"])
    assert en.output.splitlines() == [
        "migrations applied: none (up to date)",
        "district boundaries changed: 0",
    ]


def test_targets_are_set_listed_and_removed_in_the_language(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert db.database_url
    monkeypatch.setenv("DATABASE_URL", db.database_url)
    monkeypatch.delenv("REGISTRY_LANG", raising=False)
    runner = CliRunner()
    target = ["target", "set", "--year", "2030", "--layer", "manholes", "--measure", "remediated"]
    zh = runner.invoke(app, [*target, "--target", "80"])
    assert zh.exit_code == 0, zh.output
    assert zh.output.startswith("2030 年 ") and "（全市）：目标 80，已完成 0" in zh.output
    en = runner.invoke(app, ["--lang", "en", *target, "--target", "90"])
    assert en.output.strip() == "2030 manholes remediated (whole city): target 90, done 0"

    listed = runner.invoke(app, ["target", "list", "--year", "2030"]).output.splitlines()
    assert listed[0].startswith("2030 manholes.remediated 全市：已完成 0 / 目标 90 = 0.0%（")
    assert listed[-1].startswith("指标：") and "manholes.remediated (" in listed[-1]
    english = runner.invoke(app, ["--lang", "en", "target", "list", "--year", "2031"]).output.splitlines()
    assert english[0] == "2031: no targets" and english[-1].startswith("measures: ")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in "".join(english))

    remove = ["target", "remove", "--year", "2030", "--layer", "manholes", "--measure", "remediated"]
    assert runner.invoke(app, remove).output.strip() == "已删除"
    assert runner.invoke(app, ["--lang", "en", *remove]).output.strip() == "no such target"
