"""Shared fixtures: a private token key, and a copy of the seed campaign that a test may change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailmerge.campaign import seed_folder
from mailmerge.recipients import load_recipients

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
