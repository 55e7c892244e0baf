"""`[campaign] attachments`: files of the campaign folder on every email, checked when the campaign is
loaded, encoded once, and `--no-pdf` to send the emails without the letter."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailmerge.campaign import load_campaign
from mailmerge.cli.commands import app
from mailmerge.errors import InputError
from mailmerge.merge import Composer

PLAN = "Kế hoạch 58-KH-MTTQ.pdf"
AGENDA = "chuong-trinh.docx"


def with_attachments(folder: Path, *names: str) -> None:
    toml = folder / "campaign.toml"
    listed = ", ".join(f'"{name}"' for name in names)
    text = toml.read_text(encoding="utf-8").replace("[campaign]\n", f"[campaign]\nattachments = [{listed}]\n", 1)
    toml.write_text(text, encoding="utf-8")


@pytest.fixture
def attached(campaign_dir: Path) -> Path:
    (campaign_dir / "tai-lieu").mkdir()
    (campaign_dir / "tai-lieu" / PLAN).write_bytes(b"%PDF-1.7 plan " + bytes(range(256)) * 40)
    (campaign_dir / AGENDA).write_bytes(b"PK\x03\x04 agenda")
    with_attachments(campaign_dir, f"tai-lieu/{PLAN}", AGENDA)
    return campaign_dir


def files_of(raw: bytes) -> dict[str, bytes]:
    message = message_from_bytes(raw, policy=policy.default)
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def test_every_email_carries_the_files_with_their_names_and_types(attached, seed_recipients):
    composer = Composer(load_campaign(attached), key=b"k" * 32)
    _letter, raw = composer.build(seed_recipients[0])
    files = files_of(raw)
    assert list(files)[1:] == [PLAN, AGENDA]
    assert files[PLAN] == (attached / "tai-lieu" / PLAN).read_bytes()
    assert files[AGENDA] == b"PK\x03\x04 agenda"
    parts = list(message_from_bytes(raw, policy=policy.default).iter_attachments())
    assert [part.get_content_type() for part in parts] == [
        "application/pdf",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ]
    assert b"filename*=utf-8''K%E1%BA%BF%20ho%E1%BA%A1ch%2058-KH-MTTQ.pdf" in raw  # RFC 2231
    (attached / AGENDA).write_bytes(b"changed after the composer read it")
    assert files_of(composer.build(seed_recipients[1])[1])[AGENDA] == b"PK\x03\x04 agenda"  # read once


def test_files_outside_the_folder_missing_or_too_big_stop_the_campaign(campaign_dir, tmp_path):
    (tmp_path / "secret.txt").write_text("not to be sent")
    big = campaign_dir / "video.mp4"
    with big.open("wb") as stream:
        stream.truncate(11 * 1024 * 1024)
    with_attachments(campaign_dir, "../secret.txt", "khong-co.pdf", "video.mp4")
    with pytest.raises(InputError) as raised:
        load_campaign(campaign_dir)
    messages = [str(problem) for problem in raised.value.problems]
    assert any("“../secret.txt” is outside the campaign folder" in m for m in messages)
    assert any("“khong-co.pdf” was not found in the campaign folder" in m for m in messages)
    assert any("the attachments come to 11.0 MB, over 10 MB" in m for m in messages)
    assert all("campaign.toml:" in m and "[campaign.attachments]" in m for m in messages)


def test_preview_without_the_letter_keeps_the_attachments(attached, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["preview", "--to", "1", "--no-pdf", "--campaign", str(attached), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    [eml] = list(out.glob("*.eml"))
    assert list(files_of(eml.read_bytes())) == [PLAN, AGENDA]
    assert not list(out.glob("*.pdf"))


def test_send_no_pdf_sends_the_attachments_and_check_lists_them(send_dir, smtp):
    handler, _server = smtp
    (send_dir / AGENDA).write_bytes(b"PK\x03\x04 agenda")
    with_attachments(send_dir, AGENDA)
    runner = CliRunner()
    checked = runner.invoke(app, ["check", "--campaign", str(send_dir)])
    assert checked.exit_code == 0 and f"Attached to every email: {AGENDA} (0.0 KB)" in checked.output
    sent = runner.invoke(app, ["send", "--yes", "--no-pdf", "--campaign", str(send_dir)])
    assert sent.exit_code == 0, sent.output
    assert len(handler.received) == 5
    assert all(list(files_of(message.data)) == [AGENDA] for message in handler.received)
