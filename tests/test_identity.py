"""Each campaign has an identity of its own and its ledger holds the key of its tokens: two campaigns never
share a Message-ID, a campaign file copied beside another campaign's ledger cannot send in its name, and
a campaign folder taken to another computer still recognises the replies to what it sent."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from mailmerge.campaign import load_campaign

from . import mail_factory as mail
from .campaign_files import keep_first_rows, set_table
from .followup_fixtures import by_id, run, status


def new_campaign(folder: Path, server_port: int, *source: object) -> Path:
    result = run("init", folder, *source)
    assert result.exit_code == 0, result.output
    keep_first_rows(folder, 3)
    set_table(folder, "smtp", {"host": "127.0.0.1", "port": server_port, "security": "none", "timeout": 2})
    return folder


def message_ids(received: list) -> set[str]:
    return {mail.invitation(r.data)["Message-ID"].strip() for r in received}


def test_two_campaigns_made_by_init_never_share_a_message_id(tmp_path, smtp):
    handler, server = smtp
    first = new_campaign(tmp_path / "first", server.port)
    second = new_campaign(tmp_path / "second", server.port, "--from", first)
    assert (second / "templates" / "letter.html").read_bytes() == (first / "templates" / "letter.html").read_bytes()
    assert run("send", "--yes", "--campaign", first).exit_code == 0
    sent_first = message_ids(handler.received)
    assert run("send", "--yes", "--campaign", second).exit_code == 0
    sent_second = message_ids(handler.received[3:])
    assert len(sent_first) == len(sent_second) == 3 and not sent_first & sent_second
    identity = load_campaign(first).identity
    assert identity and all(f".{identity}." in message_id for message_id in sent_first)


def test_preview_shows_the_message_id_that_send_uses(tmp_path, smtp):
    handler, server = smtp
    folder = new_campaign(tmp_path / "campaign", server.port)
    assert run("preview", "--to", "1", "--out", tmp_path / "preview", "--campaign", folder).exit_code == 0
    (previewed,) = (tmp_path / "preview").glob("*.eml")
    assert run("send", "--yes", "--only", "1", "--campaign", folder).exit_code == 0
    assert message_ids(handler.received) == {mail.invitation(previewed.read_bytes())["Message-ID"].strip()}


def test_a_campaign_file_copied_beside_another_campaigns_ledger_cannot_send(tmp_path, smtp):
    handler, server = smtp
    first = new_campaign(tmp_path / "first", server.port)
    second = new_campaign(tmp_path / "second", server.port, "--from", first)
    assert run("send", "--yes", "--campaign", first).exit_code == 0
    count = len(handler.received)
    shutil.copyfile(second / "campaign.toml", first / "campaign.toml")
    refused = run("send", "--yes", "--campaign", first)
    assert refused.exit_code == 1 and "the folder was copied from another campaign" in refused.output
    assert "mailmerge init --from" in refused.output and len(handler.received) == count


@pytest.mark.parametrize("made_by_init", [True, False], ids=["new campaign", "campaign made before identities"])
def test_the_campaign_folder_recognises_its_replies_on_another_computer(
    made_by_init, tmp_path, campaign_dir, smtp, monkeypatch
):
    handler, server = smtp
    if made_by_init:
        folder = new_campaign(tmp_path / "office", server.port)
    else:  # the seed's campaign.toml has no id: its first send moves this computer's key into the ledger
        folder = campaign_dir
        keep_first_rows(folder, 3)
        set_table(folder, "smtp", {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 2})
    assert run("send", "--yes", "--campaign", folder).exit_code == 0
    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "1.eml").write_bytes(mail.reply(handler.received[0].data, "Xin xác nhận tham dự."))

    colleague = tmp_path / "colleague" / "campaign"
    shutil.copytree(folder, colleague)
    monkeypatch.setenv("MAILMERGE_KEY_FILE", str(tmp_path / "colleague" / "token.key"))  # another computer
    assert run("replies", "import", replies, "--campaign", colleague).exit_code == 0
    with sqlite3.connect(colleague / "ledger.db") as db:
        assert db.execute("SELECT matched_by, suspicious FROM mail_results").fetchall() == [("token", 0)]
        (origin,) = db.execute("SELECT origin FROM token_key").fetchone()
    assert origin == "new" if made_by_init else origin.startswith("moved from ")
    assert by_id(status(colleague))["1"]["answer"] == "attending"


def test_an_identity_not_written_by_init_is_refused(tmp_path, smtp):
    _handler, server = smtp
    folder = new_campaign(tmp_path / "campaign", server.port)
    path = folder / "campaign.toml"
    path.write_text(path.read_text().replace('id = "', 'id = "x', 1))
    result = run("check", "--campaign", folder)
    assert result.exit_code == 1 and "[campaign.id]: is not an identifier written by `mailmerge init`" in result.output
