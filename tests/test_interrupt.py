"""Ctrl-C during `mailmerge send`, with real signals: a first press stops cleanly, a second one at once.

A real `mailmerge send --yes` subprocess, in a session of its own, mails a 300-recipient campaign to a real
aiosmtpd server in this test process. SIGINT goes to the whole process group, as a terminal sends it, so
the spawned render workers get it too.

* Pressed twice about 50 ms apart, ten times at seeded moments after the first deliveries: every run is
  over (render workers included) within 10 s, with exit status 130 and no traceback; it says how many
  messages it sent and lists exactly the messages the ledger holds in doubt (`sending` or `unknown`);
  every message the ledger calls `sent` was received exactly once. A last `send` and `resend --unknown`
  then settle everyone, exactly once or in doubt.
* Pressed once while one message waits for the server's answer to DATA and another for its answer to
  RCPT: the first becomes `unknown` (the server has it), the second `deferred` (nothing was sent), and
  nothing is left `sending`. The next `send` sends the rest, lists the message in doubt and exits 2.
  Pressed twice within a millisecond there, the second press lists what is still in flight, as the ledger
  has it.

Run with `-s` to see how each run ended.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mailmerge import tokens

from .real_send import (
    assert_exactly_once_or_in_doubt,
    invitee_address,
    ledger_messages,
    ledger_states,
    output,
    prepare_campaign,
    prepare_run,
    query,
    reap_group,
    resend_unknown_and_check,
    run_to_end,
    start_send,
    wait_for_deliveries,
)
from .smtp_server import STALL, ScriptedHandler

RECIPIENTS = 300
RUNS = 10
SEED = 20201124
PRESS_WINDOW = 0.1  # the first press comes up to this long after the run's first delivery ...
MAX_PER_RUN = 20  # ... or as soon as the run delivered this many: 10 x 20 < 300, so work is always left
GAP = (0.005, 0.08)  # seconds between the two presses: about 50 ms, sometimes a bounce
DEADLINE = 10.0  # seconds after the presses by which the whole process group must be gone
IN_DOUBT = ("sending", "unknown")

LISTED = re.compile(r"^ +(\d+)  .+ <\S+@\S+>$", re.MULTILINE)  # "    7  Nguyễn Văn An <khach7@…>"
SENT_IN_RUN = re.compile(r"(\d+) messages? (?:was|were) sent in this run")


@dataclass
class Run:
    number: int
    connections: int
    delay: float  # after the run's first delivery
    gap: float
    over_after: float = 0.0  # seconds from the second press until the process group was gone
    delivered: int = 0
    at_once: bool = False  # the second press ended it (rather than the first press's clean stop)
    in_doubt: int = 0

    def __str__(self) -> str:
        how = "at once" if self.at_once else "cleanly"
        return (
            f"run {self.number:2d} conn={self.connections} delay={self.delay:.3f}s gap={self.gap:.3f}s: "
            f"delivered {self.delivered:2d}, over {self.over_after:.2f}s after the 2nd press, ended {how}, "
            f"{self.in_doubt} in doubt"
        )


def press(process: subprocess.Popen) -> None:
    """Ctrl-C as a terminal sends it: to the whole foreground process group."""
    with contextlib.suppress(ProcessLookupError):  # the clean stop may already be over
        os.killpg(process.pid, signal.SIGINT)


def finish(process: subprocess.Popen, what: str) -> str:
    """Everything the process group wrote, once all of it is gone (the render workers hold the pipes too)."""
    try:
        stdout, stderr = process.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        reap_group(process)
        stdout, stderr = process.communicate()
        message = f"{what}: still running {DEADLINE:.0f}s after Ctrl-C\n{stdout.decode()}{stderr.decode()}"
        raise AssertionError(message) from None
    finally:
        reap_group(process)
    return stdout.decode() + stderr.decode()


def press_twice(run: Run, folder: Path, env: dict[str, str], handler: ScriptedHandler) -> str:
    before = len(handler.received)
    process = start_send(folder, env, run.connections)
    try:
        wait_for_deliveries(handler, process, before + 1)
        deadline = time.monotonic() + run.delay
        while time.monotonic() < deadline and len(handler.received) - before < MAX_PER_RUN:
            time.sleep(0.002)
        press(process)
        time.sleep(run.gap)
        press(process)
        pressed = time.monotonic()
    except BaseException:
        reap_group(process)
        process.communicate()
        raise
    text = finish(process, f"run {run.number}")
    run.over_after = time.monotonic() - pressed
    run.delivered = len(handler.received) - before
    run.at_once = "Stopped at once." in text
    assert process.returncode == 130, f"run {run.number}: exit {process.returncode}\n{text}"
    return text


def check_run(run: Run, text: str, folder: Path, handler: ScriptedHandler, sent_before: int) -> set[str]:
    """What the run printed agrees with the ledger and the server; returns the Message-IDs in doubt."""
    assert "Traceback" not in text and "Warning" not in text, f"run {run.number}:\n{text}"
    rows = ledger_messages(folder)
    in_doubt = {row.recipient_id for row in rows if row.state in IN_DOUBT}
    run.in_doubt = len(in_doubt)
    assert set(LISTED.findall(text)) == in_doubt, f"run {run.number} listed other messages than the ledger:\n{text}"
    sent = {row.message_id for row in rows if row.state == "sent"}
    reported = {int(count) for count in SENT_IN_RUN.findall(text)}
    assert reported == {len(sent) - sent_before}, f"run {run.number}: {len(sent) - sent_before} sent\n{text}"
    received = handler.count_by_message_id()
    assert all(received.get(message_id) == 1 for message_id in sent), "a `sent` message not received exactly once"
    return {row.message_id for row in rows if row.state in IN_DOUBT}


def test_ctrl_c_twice_ends_send_at_once_and_cleanly(campaign_dir, smtp, tmp_path):
    started = time.monotonic()
    handler, server = smtp
    expected_ids, env = prepare_run(campaign_dir, server.port, RECIPIENTS, tmp_path / "token.key")
    rng = random.Random(SEED)
    runs = [Run(n, rng.choice([1, 2]), rng.uniform(0, PRESS_WINDOW), rng.uniform(*GAP)) for n in range(1, RUNS + 1)]

    in_doubt: set[str] = set()
    for run in runs:
        sent_before = ledger_states(campaign_dir)["sent"]
        text = press_twice(run, campaign_dir, env, handler)
        in_doubt |= check_run(run, text, campaign_dir, handler, sent_before)
        print(run)
    assert sum(run.delivered for run in runs) < RECIPIENTS, "the interrupted runs left nothing to send"

    last = run_to_end(campaign_dir, env, "send", "--yes", "--connections", "2")
    assert last.returncode == (2 if in_doubt else 0), output(last)
    sent, unknown = assert_exactly_once_or_in_doubt(campaign_dir, handler, expected_ids)
    assert unknown == in_doubt, "unknown must be exactly what the interrupted runs listed as in doubt"
    unknown_ids = {row.recipient_id for row in ledger_messages(campaign_dir) if row.state == "unknown"}
    assert set(LISTED.findall(output(last))) == unknown_ids, output(last)
    if unknown:
        resend_unknown_and_check(campaign_dir, env, handler, sent, unknown)
    print(f"{len(in_doubt)} in doubt after {RUNS} runs; the whole test took {time.monotonic() - started:.1f}s")


def stalled_send(folder: Path, handler: ScriptedHandler, port: int, env: dict[str, str]) -> subprocess.Popen:
    """A 30-recipient send on two connections, once both wait for the server: 10 for its answer to DATA
    (the server has the message), 11 for its answer to RCPT (nothing was sent); 1 to 9 are sent."""
    prepare_campaign(folder, port, 30)
    handler.answer_data(invitee_address(10), STALL)
    handler.answer_rcpt(invitee_address(11), STALL)
    handler.stall_seconds = 8.0  # the client gives up after 5 s: the presses come long before
    process = start_send(folder, env, 2)
    deadline = time.monotonic() + DEADLINE * 3
    while len(handler.stalled) < 2:
        if time.monotonic() > deadline or process.poll() is not None:
            reap_group(process)
            raise AssertionError(f"the send never reached the stalls\n{finish(process, 'stalled send')}")
        time.sleep(0.002)
    return process


def test_one_ctrl_c_records_what_each_message_in_flight_became(campaign_dir, smtp, tmp_path):
    handler, server = smtp
    env = {**os.environ, tokens.KEY_FILE_ENV: str(tmp_path / "token.key")}
    process = stalled_send(campaign_dir, handler, server.port, env)
    press(process)
    text = finish(process, "one Ctrl-C")
    assert process.returncode == 130, text
    assert "Traceback" not in text and "Warning" not in text
    assert "Interrupted. 9 messages were sent in this run" in text
    assert LISTED.findall(text) == ["10"], text
    states = {row.recipient_id: row.state for row in ledger_messages(campaign_dir)}
    assert "sending" not in states.values()
    assert (states["10"], states["11"]) == ("unknown", "deferred")
    assert {rid for rid, state in states.items() if state == "sent"} == {str(n) for n in range(1, 10)}
    assert last_detail(campaign_dir, "10") == "the run was interrupted during DATA; the server may have accepted it"
    assert last_detail(campaign_dir, "11") == "the run was interrupted at RCPT TO; nothing was sent"

    again = run_to_end(campaign_dir, env, "send", "--yes")
    assert again.returncode == 2, output(again)
    assert "Sent 20, deferred 0, failed 0, unknown 0." in output(again)
    assert "1 message is in doubt" in output(again) and "mailmerge resend --unknown" in output(again)
    assert LISTED.findall(output(again)) == ["10"]
    received = handler.count_by_message_id()
    assert len(received) == 30 and set(received.values()) == {1}, "everyone received exactly once"
    assert ledger_states(campaign_dir) == {"sent": 29, "unknown": 1}


def test_a_second_ctrl_c_lists_the_messages_in_flight(campaign_dir, smtp, tmp_path):
    """Pressed twice within a millisecond while 10 and 11 wait for the server: whichever press ends the run,
    what it lists is what the ledger holds in doubt, and 10 (which the server has) is among them."""
    handler, server = smtp
    env = {**os.environ, tokens.KEY_FILE_ENV: str(tmp_path / "token.key")}
    process = stalled_send(campaign_dir, handler, server.port, env)
    press(process)
    time.sleep(0.001)
    press(process)
    text = finish(process, "two Ctrl-C")
    assert process.returncode == 130, text
    assert "Traceback" not in text and "Warning" not in text
    in_doubt = {row.recipient_id for row in ledger_messages(campaign_dir) if row.state in IN_DOUBT}
    assert "10" in in_doubt and set(LISTED.findall(text)) == in_doubt, text
    assert "9 messages were sent in this run" in text


def last_detail(folder: Path, recipient_id: str) -> str:
    [(detail,)] = query(
        folder,
        "SELECT e.detail FROM events e JOIN messages m ON m.id = e.message WHERE m.recipient_id = ? "
        "ORDER BY e.id DESC LIMIT 1",
        (recipient_id,),
    )
    return detail


def test_a_second_press_during_a_ledger_write_waits_for_the_write_and_its_report(monkeypatch):
    """Else the last words could list as in flight a message the ledger already has as sent."""
    from mailmerge.cli.interrupts import Interrupts

    interrupts = Interrupts()
    left: list[str] = []
    monkeypatch.setattr(interrupts, "leave", lambda: left.append("left"))
    interrupts.presses = 1
    with interrupts.recording():
        interrupts.on_sigint(2, None)
        assert left == []  # the write and the tracker's update finish first
        written = True
    assert written and left == ["left"]
    interrupts.leave_pending, left[:] = False, []
    with interrupts.recording():
        interrupts.on_sigint(2, None)
        interrupts.on_sigint(2, None)  # a third press does not wait
        assert left == ["left"]
