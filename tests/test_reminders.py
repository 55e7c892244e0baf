"""Reminders to those who have not answered, invitations sent again to corrected addresses, and the DSN
parameters that bring bounces back matched — after a real send and real mail read back from Dovecot."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailmerge import tokens
from mailmerge.campaign import load_campaign
from mailmerge.merge import Composer, load

from . import mail_factory as mail
from .campaign_files import set_table
from .followup_fixtures import by_id, read_from, run, status
from .smtp_server import DsnServer, Received, ScriptedHandler


def pdf_sha256(message: EmailMessage) -> str:
    attachment = next(message.iter_attachments())
    return hashlib.sha256(attachment.get_content()).hexdigest()


def new_since(handler: ScriptedHandler, count: int) -> list[Received]:
    return handler.received[count:]


def test_reminders_reach_exactly_those_without_an_answer_in_the_same_thread_with_the_same_letter(
    send_dir, sent, mailbox, dovecot, smtp, monkeypatch
):
    handler, _server = smtp
    for raw in mailbox.values():
        dovecot.append(raw)
    read_from(dovecot, send_dir, monkeypatch)
    before = dovecot.flags_and_count()
    assert run("replies", "fetch", "--campaign", send_dir).exit_code == 0
    assert dovecot.flags_and_count() == before

    dry = run("resend", "--non-responders", "--dry-run", "--campaign", send_dir)
    assert dry.exit_code == 0, dry.output
    rows = by_id(status(send_dir))
    lines = {line.split()[0]: line for line in dry.output.splitlines() if line.strip()[:1].isdigit()}
    assert "reminder 1" in lines["4"] and "reminder 1" in lines["5"]  # an out-of-office is no answer
    assert "answered: attending" in lines["1"] and "answered: declined" in lines["2"]
    assert "the invitation bounced: 5.1.1" in lines["3"]
    assert "Left out (3):" in dry.output and "nothing was sent" in dry.output

    count = len(handler.received)
    reminded = run("resend", "--non-responders", "--yes", "--campaign", send_dir)
    assert reminded.exit_code == 0, reminded.output
    received = new_since(handler, count)
    assert sorted(r.envelope_to[0] for r in received) == sorted([rows["4"]["email"], rows["5"]["email"]])
    for reminder in received:
        message, invitation = mail.invitation(reminder.data), mail.invitation(sent[recipient_of(rows, reminder)])
        assert message["In-Reply-To"] == invitation["Message-ID"] == message["References"]
        assert message["Subject"] == f"Nhắc lại: {invitation['Subject']}"
        assert "chưa nhận được ý kiến phản hồi" in message.get_body(("plain",)).get_content()  # reminder.txt
        assert pdf_sha256(message) == pdf_sha256(invitation)
        assert message["Message-ID"] != invitation["Message-ID"]
    after = by_id(status(send_dir))
    assert [after[i]["reminders"] for i in "12345"] == [0, 0, 0, 1, 1]

    count = len(handler.received)
    again = run("resend", "--non-responders", "--yes", "--campaign", send_dir)
    assert again.exit_code == 0 and new_since(handler, count) == []  # within --min-interval: nobody twice
    assert "Nothing to send" in again.output

    answered = mail.reply(next(r.data for r in received if r.envelope_to[0] == rows["5"]["email"]), "Tôi sẽ tham dự.")
    dovecot.append(answered)
    assert run("replies", "fetch", "--campaign", send_dir).exit_code == 0
    assert by_id(status(send_dir))["5"]["answer"] == "attending"  # a reply to the reminder counts

    second = run("resend", "--non-responders", "--min-interval", "0", "--yes", "--campaign", send_dir)
    assert second.exit_code == 0, second.output
    (reminder,) = new_since(handler, count)
    message = mail.invitation(reminder.data)
    first_reminder = mail.invitation(next(r.data for r in received if r.envelope_to[0] == rows["4"]["email"]))
    assert reminder.envelope_to[0] == rows["4"]["email"]
    assert message["In-Reply-To"] == first_reminder["Message-ID"]
    invitation_id = mail.invitation(sent["4"])["Message-ID"].strip()
    assert message["References"].split() == [invitation_id, first_reminder["Message-ID"].strip()]


def recipient_of(rows: dict[str, dict], received: Received) -> str:
    return next(key for key, row in rows.items() if row["email"] == received.envelope_to[0])


def test_a_bad_interval_is_explained(send_dir, sent):
    result = run("resend", "--non-responders", "--min-interval", "2 days", "--campaign", send_dir)
    assert result.exit_code == 1 and "--min-interval: “2 days” is not a length of time" in result.output


def test_resend_needs_exactly_one_kind(send_dir):
    result = run("resend", "--unknown", "--failed", "--campaign", send_dir)
    assert result.exit_code == 1 and "one of --unknown, --non-responders or --failed" in result.output


def change_address(folder: Path, old: str, new: str) -> None:
    path = folder / "recipients.csv"
    path.write_text(path.read_text(encoding="utf-8-sig").replace(old, new), encoding="utf-8")


def test_a_refused_invitation_goes_to_the_corrected_address_and_the_ledger_keeps_both(send_dir, smtp):
    handler, _server = smtp
    rows = by_id(status(send_dir))
    old = rows["2"]["email"]
    handler.answer_rcpt(old, f"550 5.1.1 <{old}>: Recipient address rejected: User unknown")
    assert run("send", "--yes", "--campaign", send_dir).exit_code == 2
    assert by_id(status(send_dir))["2"]["state"] == "failed"

    unchanged = run("resend", "--failed", "--dry-run", "--campaign", send_dir)
    assert f"the invitation failed at {old}" in unchanged.output
    nothing = run("resend", "--failed", "--yes", "--campaign", send_dir)
    assert nothing.exit_code == 0 and "Nothing to send" in nothing.output

    new = "ban.dan.van@quan5.example"
    change_address(send_dir, old, new)
    dry = run("resend", "--failed", "--dry-run", "--campaign", send_dir)
    assert f"the invitation, instead of {old}" in dry.output
    count = len(handler.received)
    resent = run("resend", "--failed", "--yes", "--campaign", send_dir)
    assert resent.exit_code == 0, resent.output
    (received,) = new_since(handler, count)
    assert received.envelope_to[0] == new and mail.invitation(received.data)["To"].addresses[0].addr_spec == new
    row = by_id(status(send_dir))["2"]
    assert (row["state"], row["email"]) == ("sent", new)
    events = ledger_events(send_dir, "2")
    assert [e[0] for e in events] == ["queued", "sending", "failed", "queued", "sending", "sent"]
    assert f"address corrected from {old} to {new}" in events[3][1]


def ledger_events(folder: Path, recipient_id: str) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "ledger.db") as db:
        return db.execute(
            "SELECT e.state, coalesce(e.detail, '') FROM events e JOIN messages m ON m.id = e.message "
            "WHERE m.recipient_id = ? AND m.kind = 'invitation' ORDER BY e.id",
            [recipient_id],
        ).fetchall()


def test_a_bounced_invitation_sent_again_is_no_longer_bounced(send_dir, sent, mailbox, smtp, tmp_path):
    handler, _server = smtp
    export = tmp_path / "export"
    export.mkdir()
    (export / "bounce.eml").write_bytes(mailbox["3-bounce.eml"])
    assert run("replies", "import", export, "--campaign", send_dir).exit_code == 0
    old = by_id(status(send_dir))["3"]["email"]
    change_address(send_dir, old, "moi@quan5.example")
    count = len(handler.received)
    assert run("resend", "--failed", "--yes", "--campaign", send_dir).exit_code == 0
    assert [r.envelope_to[0] for r in new_since(handler, count)] == ["moi@quan5.example"]
    row = by_id(status(send_dir))["3"]
    assert (row["state"], row["delivery"], row["cc_bounces"]) == ("sent", None, [])


@pytest.fixture
def dsn_server(send_dir):
    """A server that announces DSN, with the campaign pointed at it."""
    handler = ScriptedHandler(dsn=True)
    server = DsnServer(handler)
    server.start()
    set_table(send_dir, "smtp", {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 2})
    yield handler
    server.stop()


def test_where_the_server_offers_dsn_bounces_return_headers_only_and_name_our_token(send_dir, dsn_server):
    assert run("send", "--yes", "--campaign", send_dir).exit_code == 0
    for received in dsn_server.received:
        message_id = mail.invitation(received.data)["Message-ID"].strip()
        token = message_id.strip("<>").partition("@")[0]
        assert received.mail_options == ["RET=HDRS", f"ENVID={token}".upper()]
        for address in received.envelope_to:
            assert received.rcpt_options[address] == ["NOTIFY=FAILURE,DELAY", f"ORCPT=RFC822;{address}".upper()]


def test_verp_puts_the_token_in_the_envelope_sender_and_a_bounce_to_it_is_matched(send_dir, smtp, tmp_path):
    handler, _server = smtp
    set_table(send_dir, "sender", {"email": "vanphong@mttq-quan5.example", "name": "Văn phòng", "verp": True})
    assert run("send", "--yes", "--campaign", send_dir).exit_code == 0
    received = handler.received[0]
    invitee = received.envelope_to[0]
    assert received.envelope_from.startswith("vanphong+") and received.envelope_from.endswith("@mttq-quan5.example")
    token = tokens.read_reply_address(
        tokens.load_key(), received.envelope_from, "vanphong@mttq-quan5.example", [load_campaign(send_dir).slug]
    )
    assert token is not None and token.valid
    bounce = bare_bounce(invitee, received.envelope_from)
    export = tmp_path / "export"
    export.mkdir()
    (export / "bounce.eml").write_bytes(bounce)
    assert run("replies", "import", export, "--campaign", send_dir).exit_code == 0
    row = next(r for r in status(send_dir)["recipients"] if r["email"] == invitee)
    assert row["delivery"] == "bounced"


def bare_bounce(address: str, envelope_sender: str) -> bytes:
    """A relay's bounce that returns nothing of the original and names no envelope id: only the envelope
    sender it is addressed to (VERP) says which message it is about."""
    message = EmailMessage()
    message["From"] = "MAILER-DAEMON@relay.example"
    message["To"] = envelope_sender
    message["Subject"] = "Undelivered Mail Returned to Sender"
    message.set_content(
        f"I'm sorry to have to inform you that your message could not be delivered.\n\n<{address}>: "
        "550 5.1.1 user unknown\n"
    )
    return message.as_bytes()


def test_json_documents_reminders(send_dir, sent):
    report = status(send_dir)
    assert json.dumps(report)  # serialisable
    assert all(row["reminders"] == 0 and row["reminded_at"] is None for row in report["recipients"])


def test_status_counts_reminders_and_names_delegates_per_group(send_dir, sent, mailbox, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    for name, raw in mailbox.items():
        (export / name).write_bytes(raw)
    assert run("replies", "import", export, "--campaign", send_dir).exit_code == 0
    assert run("resend", "--non-responders", "--yes", "--campaign", send_dir).exit_code == 0
    assert run("mark", "2", "--delegate", "Nguyễn Văn Bình", "--campaign", send_dir).exit_code == 0
    report = status(send_dir)
    rows = by_id(report)
    totals = report["totals"]
    assert totals["reminders_sent"] == 2
    assert totals["answered"] == 2  # attending, and the delegate marked by hand over a "declined"
    assert totals["reminders_by_group"] == dict(Counter(rows[i]["group"] for i in ("4", "5")))
    assert totals["delegates_by_group"][rows["2"]["group"]] == [
        {"id": "2", "invitee": rows["2"]["name"], "delegate": "Nguyễn Văn Bình"}
    ]
    assert sum(sum(counts.values()) for counts in totals["delivery_by_group"].values()) == 4
    shown = run("status", "--wide", "--campaign", send_dir)
    assert "2 reminders sent." in shown.output and "Answered: 2 of 5." in shown.output
    assert f"Nguyễn Văn Bình, in place of {rows['2']['name']} (#2)" in shown.output


def test_a_reminder_without_its_own_templates_repeats_the_invitation_after_the_prefix(campaign_dir):
    for name in ("reminder.txt", "reminder.html"):
        (campaign_dir / "templates" / name).unlink()
    set_table(campaign_dir, "reminder", {"subject_prefix": "[Nhắc lần 2]"})
    loaded = load(campaign_dir)
    renderer = Composer(loaded.campaign).renderer
    invitation = renderer.render(loaded.recipients[0], with_pdf=False)
    reminder = renderer.render(loaded.recipients[0], with_pdf=False, reminder=2)
    assert (reminder.text, reminder.html) == (invitation.text, invitation.html)
    assert reminder.subject == f"[Nhắc lần 2] {invitation.subject}"
