"""The sender's Sent folder, in a real Dovecot: a message in doubt whose copy is there was accepted by the
server and becomes `sent`; one whose copy is not stays in doubt for a person to decide."""

from __future__ import annotations

from .followup_fixtures import by_id, read_from, run, status
from .mail_factory import invitation
from .smtp_server import DROP

NGHIA, VIET = "nghia.vh@mttq-tphcm.example", "viet.ch@quanuy-q5.example"


def test_a_message_in_doubt_found_in_sent_is_sent_and_one_not_found_stays_in_doubt(
    send_dir, smtp, dovecot, monkeypatch
):
    handler, _server = smtp
    handler.answer_data(NGHIA, DROP)
    handler.answer_data(VIET, DROP)
    assert run("send", "--yes", "--campaign", send_dir).exit_code == 2
    assert [by_id(status(send_dir))[i]["state"] for i in ("3", "5")] == ["unknown", "unknown"]
    accepted = next(r.data for r in handler.received if r.envelope_to[0] == NGHIA)
    dovecot.create_folder("Sent")  # marked \Sent by the server (special-use): no sent_folder needed
    dovecot.append(accepted, folder="Sent", flags=("\\Seen",))  # as Gmail files what it accepted
    read_from(dovecot, send_dir, monkeypatch)
    before = dovecot.flags_and_count("Sent")

    result = run("resend", "--unknown", "--campaign", send_dir, input="n\n")
    assert "found in Sent: it had arrived, now marked sent" in result.output
    assert "Resend 1 invitation" in result.output and result.exit_code == 1  # the other one is still asked
    rows = by_id(status(send_dir))
    assert (rows["3"]["state"], rows["5"]["state"]) == ("sent", "unknown")
    assert rows["3"]["found_in_mailbox"].startswith("found in the folder Sent (UID 1)")
    assert str(invitation(accepted)["Message-ID"]).strip() == rows["3"]["message_id"]
    assert dovecot.flags_and_count("Sent") == before  # searched read-only
    shown = run("status", "--wide", "--campaign", send_dir)
    assert "in doubt, then found in the mailbox: it had arrived" in shown.output


def message_ids_in(dovecot, folder: str) -> list[str]:
    with dovecot.client() as box:
        box.folder.set(folder, readonly=True)
        return sorted(str(message.headers["message-id"][0]).strip() for message in box.fetch(mark_seen=False))


def test_each_message_sent_gets_one_copy_in_sent_flagged_seen(send_dir, smtp, dovecot, monkeypatch):
    handler, _server = smtp
    dovecot.create_folder("Sent")
    read_from(dovecot, send_dir, monkeypatch)
    sent = run("send", "--yes", "--campaign", send_dir)
    assert sent.exit_code == 0, sent.output
    assert "5 copies put in the Sent folder." in sent.output
    assert message_ids_in(dovecot, "Sent") == sorted(
        str(invitation(r.data)["Message-ID"]).strip() for r in handler.received
    )
    snapshot = dovecot.flags_and_count("Sent")
    assert snapshot.count == 5 and all("\\Seen" in flags for flags in snapshot.flags.values())
    assert {row["sent_copy"] for row in status(send_dir)["recipients"]} == {"copied"}


def test_no_copy_is_added_where_the_server_files_one_itself(send_dir, smtp, dovecot, monkeypatch):
    handler, _server = smtp
    dovecot.create_folder("Sent")
    handler.received = GmailFiling(dovecot)
    read_from(dovecot, send_dir, monkeypatch)
    sent = run("send", "--yes", "--campaign", send_dir)
    assert sent.exit_code == 0, sent.output
    assert "keeps a copy of each message in the Sent folder by itself" in sent.output
    assert dovecot.flags_and_count("Sent").count == 5  # one each, not two


class GmailFiling(list):
    """What the scripted server received, also filed in the mailbox's Sent folder as Gmail does."""

    def __init__(self, dovecot) -> None:
        super().__init__()
        self.dovecot = dovecot

    def append(self, received) -> None:
        super().append(received)
        self.dovecot.append(received.data, folder="Sent", flags=("\\Seen",))


def test_a_copy_that_cannot_be_kept_is_reported_and_sending_goes_on(send_dir, smtp, dovecot, monkeypatch):
    handler, _server = smtp
    read_from(dovecot, send_dir, monkeypatch)
    path = send_dir / "campaign.toml"
    path.write_text(path.read_text().replace("[imap]\n", '[imap]\nsent_folder = "Thư đã gửi"\n'))
    sent = run("send", "--yes", "--campaign", send_dir)
    assert sent.exit_code == 0, sent.output
    assert len(handler.received) == 5
    assert "5 messages have no copy in the Sent folder" in sent.output and "they were sent all the same" in sent.output
    assert {row["sent_copy"] for row in status(send_dir)["recipients"]} == {"not-copied"}


def test_without_a_stored_imap_password_sending_says_there_will_be_no_copies(send_dir, smtp, dovecot, monkeypatch):
    handler, _server = smtp
    read_from(dovecot, send_dir, monkeypatch)
    monkeypatch.delenv("MAILMERGE_IMAP_PASSWORD")
    sent = run("send", "--yes", "--campaign", send_dir)
    assert sent.exit_code == 0 and len(handler.received) == 5
    assert "No copies will be put in the Sent folder: the IMAP password is not stored" in sent.output
