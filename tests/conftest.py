"""Shared fixtures: a private token key, and a copy of the seed campaign that a test may change."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mailmerge.campaign import seed_folder
from mailmerge.recipients import load_recipients
from mailmerge.sink import LocalServer

from .smtp_server import ScriptedHandler

SEED = seed_folder()


@pytest.fixture(autouse=True)
def token_key(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the user's real key: each test gets its own."""
    path = tmp_path_factory.mktemp("key") / "token.key"
    monkeypatch.setenv("MAILMERGE_KEY_FILE", str(path))
    return path


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Path:
    """A writable copy of the seed campaign."""
    folder = tmp_path / "campaign"
    folder.mkdir()
    shutil.copy(SEED / "campaign.toml", folder)
    shutil.copy(SEED / "recipients.csv", folder)
    shutil.copytree(SEED / "templates", folder / "templates")
    return folder


def keep_first_rows(campaign_dir: Path, count: int) -> None:
    """Shrink the campaign's recipients file to its header and first `count` rows."""
    path = campaign_dir / "recipients.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    path.write_text("".join(lines[: count + 1]), encoding="utf-8-sig")


@pytest.fixture(scope="session")
def seed_recipients():
    return load_recipients(SEED / "recipients.csv")


def set_table(campaign_dir: Path, table: str, values: dict[str, object]) -> None:
    """Replace (or add) one [table] of the campaign's campaign.toml."""
    path = campaign_dir / "campaign.toml"
    text = path.read_text(encoding="utf-8")
    lines = [f"[{table}]"] + [f"{key} = {toml_value(value)}" for key, value in values.items()]
    block = "\n".join(lines) + "\n"
    pattern = re.compile(rf"^\[{re.escape(table)}\][^\n]*\n(?:(?!\[).*\n?)*", re.MULTILINE)
    text = pattern.sub(block + "\n", text, count=1) if pattern.search(text) else text + "\n" + block
    path.write_text(text, encoding="utf-8")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def smtp():
    """A scripted aiosmtpd server on a random port of 127.0.0.1: (handler, server)."""
    handler = ScriptedHandler()
    server = LocalServer(handler)
    server.start()
    yield handler, server
    server.stop()


@pytest.fixture
def send_dir(campaign_dir: Path, smtp, tmp_path: Path) -> Path:
    """The seed campaign, cut to 5 recipients, pointed at the scripted server, retrying fast."""
    _, server = smtp
    keep_first_rows(campaign_dir, 5)
    set_table(campaign_dir, "smtp", {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 2})
    set_table(campaign_dir, "send", {"retries": 2, "retry_delay": 0.05, "pause_after": 5})
    return campaign_dir
