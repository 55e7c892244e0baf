"""Shared fixtures: a private token key, and a copy of the seed campaign that a test may change."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailmerge.campaign import load_campaign, seed_folder
from mailmerge.demo import copy_seed
from mailmerge.recipients import load_recipients
from mailmerge.sink import LocalServer

from .campaign_files import keep_first_rows, set_table, toml_value  # noqa: F401  (the tests import them from here)
from .dovecot import dovecot  # noqa: F401  (a real IMAP server, for any test that asks for it)
from .followup_fixtures import mailbox, sent  # noqa: F401  (invitations sent, and the mail that comes back)
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
    return copy_seed(tmp_path / "campaign")


@pytest.fixture(scope="session")
def seed_campaign(tmp_path_factory: pytest.TempPathFactory):
    """The seed campaign, loaded from a copy: its laid-out letters are kept in the copy, not the checkout."""
    return load_campaign(copy_seed(tmp_path_factory.mktemp("seed") / "campaign"))


@pytest.fixture(scope="session")
def seed_recipients():
    return load_recipients(SEED / "recipients.csv")


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
