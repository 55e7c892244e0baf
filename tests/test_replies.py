"""Replies and bounces read back after a real send: from exported files and from a real Dovecot mailbox.

The invitations go out through the scripted aiosmtpd server; the mail that comes back is written for the
test from what was really sent (its Message-IDs and Reply-To tokens): a threaded reply, a reply that lost
its thread, a Postfix DSN, an out-of-office, a forged token and spam. `status` must then say what that mail
holds, whether it was imported from files or fetched over IMAP, and the mailbox must be left untouched."""

from __future__ import annotations

from pathlib import Path

from .followup_fixtures import by_id, read_from, run, status, write


def assert_status_says_what_the_mailbox_holds(send_dir: Path) -> None:
    report = status(send_dir)
    totals = report["totals"]
    assert totals["by_delivery"] == {"delivered": 3, "bounced": 1}
    assert totals["by_answer"] == {"attending": 1, "declined": 1, "auto-reply": 1, "no answer": 2}
    assert totals["unmatched_mail"] == 2
    rows = by_id(report)
    assert (rows["1"]["answer"], rows["1"]["delivery"]) == ("attending", "delivered")
    assert "tham dự" in rows["1"]["answer_excerpt"]
    assert rows["2"]["answer"] == "declined"
    assert rows["3"]["delivery"] == "bounced" and rows["3"]["bounce"].startswith("5.1.1")
    assert rows["4"]["answer"] == "auto-reply"
    assert rows["5"]["answer"] == "no answer" and rows["5"]["mail"] == 0  # the forged mail is nobody's


def test_imported_mail_gives_every_invitee_their_answer_and_nothing_twice(send_dir, mailbox, tmp_path):
    folder = write(tmp_path / "export", mailbox)
    first = run("replies", "import", folder, "--campaign", send_dir)
    assert first.exit_code == 0, first.output
    assert "Read 6 messages, 6 of them new." in first.output
    assert_status_says_what_the_mailbox_holds(send_dir)

    again = run("replies", "import", folder, "--campaign", send_dir)
    assert "Read 6 messages, 0 of them new." in again.output
    assert_status_says_what_the_mailbox_holds(send_dir)

    unmatched = run("replies", "list", "--unmatched", "--campaign", send_dir)
    assert "stranger@elsewhere.example" in unmatched.output and "deals@shop.example" in unmatched.output
    assert "(forged token!)" in unmatched.output
    assert "2 messages." in unmatched.output

    reread = run("replies", "reclassify", "--campaign", send_dir)
    assert "Read 6 stored messages again; 0 of them now say something else." in reread.output


def test_an_answer_recorded_by_hand_wins_and_can_be_cleared(send_dir, mailbox, tmp_path):
    assert run("replies", "import", write(tmp_path / "export", mailbox), "--campaign", send_dir).exit_code == 0
    marked = run("mark", "5", "--delegate", "Nguyễn Văn Bình", "--note", "gọi điện 22/8", "--campaign", send_dir)
    assert marked.exit_code == 0, marked.output
    changed = run("mark", "1", "--declined", "--campaign", send_dir)
    assert changed.exit_code == 0, changed.output
    rows = by_id(status(send_dir))
    assert (rows["5"]["answer"], rows["5"]["delegate"], rows["5"]["answer_by_hand"]) == (
        "delegate",
        "Nguyễn Văn Bình",
        True,
    )
    assert rows["5"]["note"] == "gọi điện 22/8"
    assert rows["1"]["answer"] == "declined"  # by hand, over the reply's "attending"
    assert run("mark", "1", "--clear", "--campaign", send_dir).exit_code == 0
    assert by_id(status(send_dir))["1"]["answer"] == "attending"
    refused = run("mark", "1", "--attending", "--declined", "--campaign", send_dir)
    assert refused.exit_code == 1 and "Say one answer" in refused.output


def test_fetching_from_the_mailbox_gives_the_same_answers_and_leaves_it_untouched(
    send_dir, mailbox, dovecot, monkeypatch
):
    for name, raw in mailbox.items():
        dovecot.append(raw, flags=("\\Seen",) if name.startswith("1") else ())
    read_from(dovecot, send_dir, monkeypatch)
    before = dovecot.flags_and_count()
    fetched = run("replies", "fetch", "--campaign", send_dir)
    assert fetched.exit_code == 0, fetched.output
    assert "Read 6 messages, 6 of them new." in fetched.output
    assert dovecot.flags_and_count() == before
    assert_status_says_what_the_mailbox_holds(send_dir)

    again = run("replies", "fetch", "--campaign", send_dir)
    assert "Read 0 messages, 0 of them new." in again.output
    assert dovecot.flags_and_count() == before


def test_mail_fetched_and_imported_is_one_message(send_dir, mailbox, dovecot, monkeypatch, tmp_path):
    for raw in mailbox.values():
        dovecot.append(raw)
    read_from(dovecot, send_dir, monkeypatch)
    assert run("replies", "import", write(tmp_path / "export", mailbox), "--campaign", send_dir).exit_code == 0
    fetched = run("replies", "fetch", "--campaign", send_dir)
    assert "Read 6 messages, 0 of them new." in fetched.output
    assert_status_says_what_the_mailbox_holds(send_dir)


def test_replies_need_a_ledger_and_an_imap_table(campaign_dir):
    no_ledger = run("replies", "fetch", "--campaign", campaign_dir)
    assert no_ledger.exit_code == 1 and "campaign.toml has no [imap] table" in no_ledger.output
    imported = run("replies", "import", campaign_dir / "templates", "--campaign", campaign_dir)
    assert imported.exit_code == 1 and "there is no ledger" in imported.output
