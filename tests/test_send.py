"""`mailmerge send` against a real aiosmtpd server: every transition of the ledger, as a user sees it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailmerge.cli.commands import app

from .conftest import set_table
from .smtp_server import DROP, STALL

runner = CliRunner()
INVITEES = [
    "phuc.ht@mttq-tphcm.example",
    "thao.dtt@mttq-tphcm.example",
    "nghia.vh@mttq-tphcm.example",
    "dung.dt@mttq-tphcm.example",
    "viet.ch@quanuy-q5.example",
]


def run(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def send(folder: Path, *extra: object):
    return run("send", "--yes", "--campaign", folder, *extra)


def ledger(folder: Path) -> sqlite3.Connection:
    db = sqlite3.connect(folder / "ledger.db")
    db.row_factory = sqlite3.Row
    return db


def states(folder: Path) -> dict[str, str]:
    with ledger(folder) as db:
        return {
            r["email"]: r["state"]
            for r in db.execute(
                "SELECT r.email, m.state FROM messages m JOIN recipients r USING (campaign, recipient_id)"
            )
        }


def message_row(folder: Path, email: str) -> sqlite3.Row:
    with ledger(folder) as db:
        return db.execute(
            "SELECT m.* FROM messages m JOIN recipients r USING (campaign, recipient_id) WHERE r.email = ?", [email]
        ).fetchone()


def event_trail(folder: Path, email: str) -> list[str]:
    with ledger(folder) as db:
        return [
            r["state"]
            for r in db.execute(
                "SELECT e.state FROM events e JOIN messages m ON m.id = e.message "
                "JOIN recipients r USING (campaign, recipient_id) WHERE r.email = ? ORDER BY e.id",
                [email],
            )
        ]


def test_send_delivers_each_invitation_once_and_a_rerun_sends_nothing(send_dir, smtp):
    handler, _ = smtp
    result = send(send_dir)
    assert result.exit_code == 0, result.output
    assert "Sent 5, deferred 0, failed 0, unknown 0." in result.output
    assert sorted(m.envelope_to[0] for m in handler.received) == sorted(INVITEES)
    assert set(states(send_dir).values()) == {"sent"}
    row = message_row(send_dir, INVITEES[0])
    assert row["smtp_code"] == 250 and row["smtp_reply"].startswith("2.0.0 Ok: queued as")
    assert row["pdf_size"] > 10_000 and len(row["pdf_sha256"]) == 64
    assert json.loads(row["merged"])["name"] == "Hoàng Tấn Phúc"
    assert event_trail(send_dir, INVITEES[0]) == ["queued", "sending", "sent"]
    assert handler.received[0].data.count(b"Content-Type: application/pdf") == 1

    again = send(send_dir)
    assert again.exit_code == 0, again.output
    assert "Nothing to send: 5 sent." in again.output
    assert len(handler.received) == 5


def test_cc_goes_in_the_envelope_and_a_refused_cc_is_recorded_per_address(send_dir, smtp):
    handler, _ = smtp
    handler.answer_rcpt("vanphong@mttq-tphcm.example", "550 5.1.1 mailbox unavailable")
    result = send(send_dir, "--only", "1")
    assert result.exit_code == 0, result.output
    assert handler.received[0].envelope_to == [INVITEES[0]]
    assert states(send_dir) == {INVITEES[0]: "sent"}
    assert event_trail(send_dir, INVITEES[0]) == ["queued", "sending", "sent", "refused"]
    report = json.loads(run("status", "--json", "--campaign", send_dir).output)
    first = report["recipients"][0]
    assert first["refused"] == "vanphong@mttq-tphcm.example: 550 5.1.1 mailbox unavailable"


def test_a_temporary_error_is_retried_within_the_run(send_dir, smtp):
    handler, _ = smtp
    handler.answer_rcpt(INVITEES[1], "451 4.7.1 greylisted, try again later")
    handler.answer_data(INVITEES[2], "452 4.3.1 insufficient storage")
    result = send(send_dir)
    assert result.exit_code == 0, result.output
    assert set(states(send_dir).values()) == {"sent"}
    assert message_row(send_dir, INVITEES[1])["attempts"] == 2
    assert event_trail(send_dir, INVITEES[1]) == ["queued", "sending", "deferred", "sending", "sent"]
    assert len(handler.received) == 5


def test_a_lasting_temporary_error_is_left_deferred_for_the_next_run(send_dir, smtp):
    handler, _ = smtp
    handler.answer_rcpt(INVITEES[3], *["451 4.7.1 try again later"] * 3)
    result = send(send_dir)
    assert result.exit_code == 2, result.output
    assert "deferred 1" in result.output and "retried by the next `mailmerge send`" in result.output
    row = message_row(send_dir, INVITEES[3])
    assert (row["state"], row["attempts"], row["smtp_code"]) == ("deferred", 3, 451)
    again = send(send_dir)
    assert again.exit_code == 0, again.output
    assert "Sent 1," in again.output and states(send_dir)[INVITEES[3]] == "sent"
    assert len(handler.received) == 5


def test_a_permanent_error_fails_with_the_servers_text(send_dir, smtp):
    handler, _ = smtp
    handler.answer_rcpt(INVITEES[0], "550 5.1.1 <phuc.ht@mttq-tphcm.example>: user unknown")
    handler.answer_data(INVITEES[4], "554 5.7.1 message rejected as spam")
    result = send(send_dir)
    assert result.exit_code == 2
    assert "Sent 3, deferred 0, failed 2" in result.output
    assert message_row(send_dir, INVITEES[0])["smtp_reply"] == "5.1.1 <phuc.ht@mttq-tphcm.example>: user unknown"
    assert message_row(send_dir, INVITEES[4])["smtp_code"] == 554
    status = run("status", "--campaign", send_dir)
    assert "failed" in status.output and "554" in status.output
    assert "Nothing to send" in send(send_dir).output  # failures are not retried blindly


@pytest.mark.parametrize("fault", [DROP, STALL])
def test_a_connection_lost_during_data_leaves_the_message_unknown_and_never_resent(send_dir, smtp, fault):
    handler, _ = smtp
    handler.answer_data(INVITEES[2], fault)
    result = send(send_dir)
    assert result.exit_code == 2
    assert "unknown 1" in result.output and "mailmerge resend --unknown" in result.output
    assert states(send_dir)[INVITEES[2]] == "unknown"
    assert sum(1 for m in handler.received if m.envelope_to[0] == INVITEES[2]) == 1
    assert len([s for s in states(send_dir).values() if s == "sent"]) == 4

    assert "Nothing to send" in send(send_dir).output
    refused = run("resend", "--unknown", "--campaign", send_dir, input="n\n")
    assert refused.exit_code == 1 and "may already have arrived" in refused.output
    resent = run("resend", "--unknown", "--campaign", send_dir, input="y\n")
    assert resent.exit_code == 0, resent.output
    assert states(send_dir)[INVITEES[2]] == "sent"
    copies = [m for m in handler.received if m.envelope_to[0] == INVITEES[2]]
    assert len(copies) == 2 and copies[0].message_id == copies[1].message_id
    assert event_trail(send_dir, INVITEES[2])[-4:] == ["unknown", "queued", "sending", "sent"]


def test_a_run_that_died_mid_send_is_settled_as_unknown_at_start_up(send_dir, smtp):
    assert send(send_dir, "--only", "1").exit_code == 0
    with ledger(send_dir) as db:  # what a SIGKILL between the claim and the 250 leaves behind
        db.execute("UPDATE messages SET state = 'sending'")
    result = send(send_dir)
    assert "1 message was being sent when the previous run stopped" in result.output
    assert states(send_dir)[INVITEES[0]] == "unknown"
    assert "Sent 4," in result.output


def test_sending_pauses_after_consecutive_failures(send_dir, smtp):
    handler, _ = smtp
    set_table(send_dir, "send", {"retries": 0, "retry_delay": 0.05, "pause_after": 2})
    for address in INVITEES:
        handler.answer_rcpt(address, "550 5.7.1 relaying denied")
    result = send(send_dir)
    assert result.exit_code == 2
    assert "Paused: paused after 2 failures in a row (last: 550 5.7.1 relaying denied)" in result.output
    final = states(send_dir)
    assert list(final.values()).count("failed") == 2
    assert list(final.values()).count("queued") == 3, "the rest is not claimed after the pause"


def test_limit_only_and_dry_run(send_dir, smtp):
    handler, _ = smtp
    dry = send(send_dir, "--dry-run")
    assert dry.exit_code == 0 and "Dry run: 5 messages would be sent" in dry.output
    assert not (send_dir / "ledger.db").exists() and not handler.received
    assert send(send_dir, "--limit", "2").exit_code == 0
    assert len(handler.received) == 2
    assert send(send_dir, "--only", INVITEES[4]).exit_code == 0
    assert handler.received[-1].envelope_to[0] == INVITEES[4]
    assert len(handler.received) == 3


def test_several_connections_send_everything_once(send_dir, smtp):
    handler, _ = smtp
    result = send(send_dir, "--connections", "3")
    assert result.exit_code == 0, result.output
    assert sorted(handler.count_by_message_id().values()) == [1] * 5
    assert handler.connections == 1 + 3  # the server check before the confirmation, then the three to send


def test_confirmation_names_count_sender_and_server(send_dir, smtp):
    handler, server = smtp
    result = run("send", "--campaign", send_dir, input="n\n")
    assert result.exit_code == 1
    assert (
        f"Send 5 invitations from Ban Thường trực Ủy ban MTTQ Việt Nam Quận 5 <vanphong@mttq-quan5.example> "
        f"via 127.0.0.1:{server.port} (none)?"
    ) in result.output
    assert not handler.received


def test_invalid_recipients_stop_everything_unless_skipped(send_dir, smtp):
    handler, _ = smtp
    path = send_dir / "recipients.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    lines[3] = lines[3].replace("nghia.vh@mttq-tphcm.example", "nghia.vh@")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    refused = send(send_dir)
    assert refused.exit_code == 1 and "recipients.csv:4 [email]" in refused.output
    assert not handler.received and not (send_dir / "ledger.db").exists()
    skipped = send(send_dir, "--skip-invalid")
    assert skipped.exit_code == 2, skipped.output
    assert "Skipped: recipients.csv:4 [email]" in skipped.output and len(handler.received) == 4
    assert "1 row of the recipients file was skipped" in skipped.output
    report = json.loads(run("status", "--json", "--campaign", send_dir).output)
    assert report["totals"]["by_state"] == {"sent": 4, "invalid": 1}
    invalid = [row for row in report["recipients"] if row["state"] == "invalid"]
    assert [(row["id"], row["email"]) for row in invalid] == [("3", "nghia.vh@")]
    assert "email: “nghia.vh@” is not a valid address" in invalid[0]["problem"]
    assert invalid[0]["problem"].endswith("(row 4)")
    listed = run("status", "--state", "invalid", "--campaign", send_dir)
    assert "nghia.vh@" not in listed.output or "Võ Hữu Nghĩa" in listed.output
    assert "Võ Hữu Nghĩa" in listed.output and "Hoàng Tấn Phúc" not in listed.output


def test_status_json_has_the_documented_shape(send_dir, smtp):
    handler, _ = smtp
    handler.answer_rcpt(INVITEES[1], "550 5.1.1 no such user")
    send(send_dir, "--limit", "3")
    report = json.loads(run("status", "--json", "--campaign", send_dir).output)
    assert report["campaign"] == "so-ket-200-ngay-gd2"
    assert report["totals"]["recipients"] == 5
    assert report["totals"]["by_state"] == {"sent": 2, "failed": 1, "new": 2}
    assert report["totals"]["by_group"]["Thành phố"] == {"sent": 2, "failed": 1, "new": 1}
    first, second = report["recipients"][:2]
    for key in ("email", "name", "group", "state", "smtp_reply", "updated_at"):
        assert key in first
    assert (first["state"], first["group"], second["state"]) == ("sent", "Thành phố", "failed")
    assert second["smtp_reply"] == "5.1.1 no such user" and second["smtp_code"] == 550
    assert first["updated_at"].endswith("+00:00")
    assert report["recipients"][4] | {"updated_at": None} == report["recipients"][4]
    assert report["recipients"][4]["state"] == "new"

    failed_only = json.loads(run("status", "--json", "--state", "failed", "--campaign", send_dir).output)
    assert [r["email"] for r in failed_only["recipients"]] == [INVITEES[1]]
    assert failed_only["totals"] == report["totals"]
    table = run("status", "--state", "new", "--state", "failed", "--campaign", send_dir).output
    assert INVITEES[1] not in table  # the table shows names, not addresses
    assert "Thảo" in table and "Phúc" not in table  # recipient 2 (failed) is listed, 1 (sent) is not
    wrong = run("status", "--state", "lost", "--campaign", send_dir)
    assert wrong.exit_code == 1 and "no state lost" in wrong.output


def test_demo_sends_the_seed_campaign_to_a_local_sink(tmp_path):
    out = tmp_path / "demo"
    result = run("demo", "--out", out)
    assert result.exit_code == 0, result.output
    assert "Sent 65, deferred 0, failed 0, unknown 0." in result.output
    assert "Totals: 65 sent" in result.output
    assert len(list((out / "received").glob("*.eml"))) == 65
    assert len(list((out / "pdf").glob("Giay-moi_58-GM-MTTQ-BTT_*.pdf"))) == 65


def test_a_message_keeps_the_message_id_the_ledger_gave_it(send_dir, smtp, tmp_path, monkeypatch):
    """Replies are matched by Message-ID: what goes out must be what the ledger holds, even if the
    signing key changed between the run that queued the message and the one that sends it."""
    handler, _ = smtp
    handler.answer_rcpt(INVITEES[1], *["451 4.7.1 try again later"] * 3)
    send(send_dir)
    queued_id = message_row(send_dir, INVITEES[1])["message_id"]
    monkeypatch.setenv("MAILMERGE_KEY_FILE", str(tmp_path / "another.key"))
    assert send(send_dir).exit_code == 0
    assert handler.received[-1].envelope_to[0] == INVITEES[1]
    assert handler.received[-1].message_id == queued_id
    assert {m.message_id for m in handler.received} == {message_row(send_dir, a)["message_id"] for a in INVITEES}
