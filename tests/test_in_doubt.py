"""What a run reports about messages in doubt: after any `send` or `resend`, every message of the campaign
still `unknown` in the ledger, whichever run left it so, is listed (ID, name, email) with what to do, and
the exit code is 2 while any remain. Against the real aiosmtpd server of the `smtp` fixture."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from mailmerge.cli.commands import app
from mailmerge.cli.interrupts import SendTracker
from mailmerge.ledger import DEFERRED, SENT, UNKNOWN, Prepared
from mailmerge.transaction import Outcome, Outgoing

from .smtp_server import DROP

runner = CliRunner()
PHUC = "     1  Hoàng Tấn Phúc <phuc.ht@mttq-tphcm.example>"
NGHIA = "     3  Võ Hữu Nghĩa <nghia.vh@mttq-tphcm.example>"
VIET = "     5  Châu Hoàng Việt <viet.ch@quanuy-q5.example>"
WHAT_TO_DO = "`mailmerge status`"


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def send(folder: Path, *extra: object):
    return run("send", "--yes", "--campaign", folder, *extra)


def listed(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("     ") and "@" in line]


def test_every_later_send_lists_what_an_earlier_run_left_in_doubt(send_dir, smtp):
    handler, _ = smtp
    handler.answer_data("nghia.vh@mttq-tphcm.example", DROP)
    first = send(send_dir)
    assert first.exit_code == 2, first.output
    assert "1 message is in doubt" in first.output and listed(first.output) == [NGHIA]
    assert WHAT_TO_DO in first.output and "mailmerge resend --unknown" in first.output

    nothing_left = send(send_dir)
    assert nothing_left.exit_code == 2, nothing_left.output
    assert "Nothing to send: 4 sent, 1 unknown." in nothing_left.output
    assert listed(nothing_left.output) == [NGHIA] and "mailmerge resend --unknown" in nothing_left.output

    another = send(send_dir, "--only", "1")  # someone else's doubt still counts: it is the campaign's
    assert another.exit_code == 2 and listed(another.output) == [NGHIA]


def test_a_send_after_a_stopped_run_says_how_many_are_in_doubt(send_dir, smtp):
    assert send(send_dir, "--only", "1").exit_code == 0
    with sqlite3.connect(send_dir / "ledger.db") as db:  # what a run killed between claim and 250 leaves
        db.execute("UPDATE messages SET state = 'sending'")
    result = send(send_dir)
    assert result.exit_code == 2, result.output
    assert "Sent 4, deferred 0, failed 0, unknown 0." in result.output
    assert "1 message was being sent when the previous run stopped" in result.output
    assert "1 message is in doubt" in result.output and listed(result.output) == [PHUC]


def test_resend_exits_0_only_once_nothing_is_in_doubt(send_dir, smtp):
    handler, _ = smtp
    handler.answer_data("nghia.vh@mttq-tphcm.example", DROP)
    handler.answer_data("viet.ch@quanuy-q5.example", DROP)
    assert send(send_dir).exit_code == 2
    some = run("resend", "--unknown", "--yes", "--only", "3", "--campaign", send_dir)
    assert some.exit_code == 2, some.output
    assert "1 message is in doubt" in some.output and listed(some.output)[-1:] == [VIET]
    rest = run("resend", "--unknown", "--yes", "--campaign", send_dir)
    assert rest.exit_code == 0, rest.output
    assert "in doubt" not in rest.output


def outgoing(message: int, recipient: str, name: str) -> Outgoing:
    merged = {"id": recipient, "name": name}
    prepared = Prepared(message, [f"khach{recipient}@example.org"], "Giấy mời", None, None, merged)
    return Outgoing(prepared, "vanphong@example.org", b"")


def test_a_second_ctrl_c_lists_what_is_in_flight_and_what_is_in_doubt():
    """What the signal handler writes, from what the callbacks reported: claimed but not settled, or
    settled as unknown (in this run or an earlier one); a deferral or a 250 is not in doubt."""
    earlier = outgoing(1, "1", "An").invitee
    tracker = SendTracker([earlier])
    for number, name in [(2, "Bình"), (3, "Châu"), (4, "Dũng"), (5, "Hà")]:
        tracker.claimed(outgoing(number, str(number), name))
    tracker.settled(outgoing(2, "2", "Bình"), Outcome(SENT, 250, "ok"))
    tracker.settled(outgoing(3, "3", "Châu"), Outcome(DEFERRED, detail="the run was interrupted at RCPT TO"))
    tracker.settled(outgoing(4, "4", "Dũng"), Outcome(UNKNOWN))
    words = tracker.last_words()
    assert "Stopped at once. 1 message was sent in this run." in words
    lines = [line.split() for line in words.splitlines() if "@" in line]
    assert [line[0] for line in lines] == ["1", "4", "5"]
    assert "3 messages are in doubt" in words and "mailmerge resend --unknown" in words
