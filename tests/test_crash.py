"""`mailmerge send` survives being killed at any moment: nothing is lost, nothing goes out twice.

A real `mailmerge send` subprocess mails a 320-recipient campaign to a real aiosmtpd server in this test
process, and is killed with SIGKILL (no clean-up, no `finally`, exactly like a power cut or the OOM killer)
twelve times at seeded random moments: some while it is still starting (imports, planning, ledger, render
pool), most while it is sending. Each time it is simply started again. One last run goes to the end.

What that proves, from the ledger (SQLite, read directly) and from what the server really received:

* every recipient has exactly one invitation message, with the same Message-ID in every run;
* a message the ledger calls `sent` was received exactly once; a message the server never got is never
  `sent` (the claim is committed before SMTP, `sent` only after the 250);
* a message cut off mid-send is `unknown`, was received at most once, and `send` never resends it on its
  own; no message is left queued, sending, deferred or failed;
* nobody is missing: received ∪ unknown covers every recipient, and no Message-ID arrived twice;
* `mailmerge status --json` agrees with the ledger;
* `mailmerge resend --unknown` (the user's explicit say-so) then settles every message in doubt.

The random moments come from a seeded `random.Random`, so a failure can be replayed with the same schedule
(the machine's speed still moves the exact message a kill lands on). Run with `-s` to see the schedule.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from mailmerge import tokens

from .real_send import (
    RUN_TIMEOUT,
    assert_exactly_once_or_in_doubt,
    explain,
    group_alive,
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
from .smtp_server import ScriptedHandler

RECIPIENTS = 320
KILLS = 12
SEED = 20200828
START_UP_KILLS = 4  # the others land mid-send
MID_SEND_WINDOW = 0.2  # seconds after a run's first message reached the server
MAX_PER_KILLED_RUN = 24  # ... or as soon as it delivered this many: 12 x 24 < 320, so work is always left
TIME_BUDGET = 60.0


@dataclass
class Run:
    number: int
    kind: str  # "start-up" or "mid-send"
    connections: int
    delay: float  # after the start (start-up) or after the run's first delivery (mid-send)
    first_delivery: float | None = None  # seconds after the start
    killed_at: float = 0.0  # seconds after the start
    delivered: int = 0  # messages the server received during this run
    left_sending: frozenset[str] = frozenset()  # Message-IDs still `sending` after the kill: cut off mid-message

    def __str__(self) -> str:
        return (
            f"run {self.number:2d} {self.kind:8s} conn={self.connections} delay={self.delay:.3f}s "
            f"killed at {self.killed_at:.2f}s, delivered {self.delivered:3d}, left sending {len(self.left_sending)}"
        )


def send_and_kill(run: Run, folder: Path, env: dict[str, str], handler: ScriptedHandler) -> None:
    """Start `send`, SIGKILL it at the run's moment, and record what it did."""
    before = len(handler.received)
    started = time.monotonic()
    process = start_send(folder, env, run.connections)
    try:
        deadline = started + run.delay if run.kind == "start-up" else None
        while True:
            now = time.monotonic()
            assert now - started < RUN_TIMEOUT, f"run {run.number} never reached its kill"
            assert process.poll() is None, f"run {run.number} ended before its kill: {explain(process)}"
            delivered = len(handler.received) - before
            if run.first_delivery is None and delivered:
                run.first_delivery = now - started
                deadline = deadline or now + run.delay
            if (deadline is not None and now >= deadline) or delivered >= MAX_PER_KILLED_RUN:
                break
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        run.killed_at = time.monotonic() - started
    finally:
        reap_group(process)
        process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    run.delivered = len(handler.received) - before
    run.left_sending = frozenset(row.message_id for row in ledger_messages(folder) if row.state == "sending")


def schedule(rng: random.Random, start_up: float) -> list[Run]:
    """Which runs die during start-up (spread over its measured length) and which mid-send."""
    kinds = ["start-up"] * START_UP_KILLS + ["mid-send"] * (KILLS - 1 - START_UP_KILLS)
    rng.shuffle(kinds)
    return [
        Run(
            number,
            kind,
            rng.choice([1, 2]),
            rng.uniform(0.02, 0.9) * start_up if kind == "start-up" else rng.uniform(0.0, MID_SEND_WINDOW),
        )
        for number, kind in enumerate(kinds, start=2)
    ]


def event_counts(folder: Path) -> dict[tuple[str, str], int]:
    """(message_id, event state) -> how many such events the append-only log holds."""
    rows = query(
        folder,
        "SELECT m.message_id, e.state, count(*) FROM events e JOIN messages m ON m.id = e.message GROUP BY 1, 2",
    )
    return {(message_id, state): count for message_id, state, count in rows}


# --- the test -------------------------------------------------------------------------------------


def test_send_killed_at_random_moments_never_loses_or_duplicates_an_invitation(campaign_dir, smtp, tmp_path):
    test_started = time.monotonic()
    handler, server = smtp
    expected_ids, env = prepare_run(campaign_dir, server.port, RECIPIENTS, tmp_path / "token.key")
    rng = random.Random(SEED)

    # Run 1 dies mid-send and measures how long start-up takes here, to spread the start-up kills over it.
    first = Run(1, "mid-send", 1, rng.uniform(0.0, MID_SEND_WINDOW))
    send_and_kill(first, campaign_dir, env, handler)
    assert first.first_delivery is not None
    start_up = first.first_delivery
    runs = [first, *schedule(rng, start_up)]
    for run in runs[1:]:
        send_and_kill(run, campaign_dir, env, handler)
    print(f"\nseed {SEED}, start-up ≈ {start_up:.2f}s")
    for run in runs:
        print(run)

    # The kills were meaningful: some hit start-up, several interrupted a sending run, and work was left.
    assert sum(run.delivered == 0 for run in runs) >= 2, "no kill landed before sending started"
    assert sum(run.delivered > 0 for run in runs) >= 5, "too few kills interrupted sending"
    before_last = ledger_states(campaign_dir)
    delivered_by_kills = len(handler.received)
    assert before_last["queued"] + RECIPIENTS - sum(before_last.values()) > 0, "the killed runs left nothing to send"
    cut_off_mid_message = frozenset().union(*(run.left_sending for run in runs))

    # The last run, not killed: it settles the cut-off ones as unknown, sends everyone else, and exits 2
    # if some are in doubt.
    last_started = time.monotonic()
    last = run_to_end(campaign_dir, env, "send", "--yes", "--connections", "2")
    last_seconds = time.monotonic() - last_started
    assert last.returncode == (2 if cut_off_mid_message else 0), output(last)
    assert len(handler.received) > delivered_by_kills
    print(f"ledger before the last run: {dict(before_last)}; {len(cut_off_mid_message)} cut off mid-send by a kill")
    print(f"last run: {last_seconds:.2f}s, {len(handler.received) - delivered_by_kills} delivered")

    sent, unknown = assert_exactly_once_or_in_doubt(campaign_dir, handler, expected_ids)
    by_state = ledger_states(campaign_dir)
    print(f"ledger: {dict(by_state)}; received {len(handler.received)} messages")
    assert unknown == cut_off_mid_message, "unknown must be exactly the messages a kill cut off mid-send"
    events = event_counts(campaign_dir)
    assert all(events.get((message_id, "sent")) == 1 for message_id in sent), "sent must be logged exactly once"
    assert all(events.get((message_id, "unknown")) == 1 for message_id in unknown)

    report = run_to_end(campaign_dir, env, "status", "--json")
    assert report.returncode == 0, report.stderr.decode()
    totals = json.loads(report.stdout)["totals"]
    assert totals["recipients"] == RECIPIENTS
    assert totals["by_state"] == dict(by_state)

    if unknown:
        resend_unknown_and_check(campaign_dir, env, handler, sent, unknown)

    elapsed = time.monotonic() - test_started
    print(f"the whole test took {elapsed:.1f}s")
    assert elapsed <= TIME_BUDGET


def test_render_workers_leave_when_send_is_killed(campaign_dir, smtp, tmp_path):
    """A SIGKILLed `send` cannot shut its render pool down; the workers must notice and exit by themselves."""
    handler, server = smtp
    prepare_campaign(campaign_dir, server.port, RECIPIENTS)
    process = start_send(campaign_dir, {**os.environ, tokens.KEY_FILE_ENV: str(tmp_path / "token.key")}, 1)
    try:
        wait_for_deliveries(handler, process, 1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and group_alive(process.pid):
            time.sleep(0.1)
        assert not group_alive(process.pid), "render workers outlived the killed send"
    finally:
        reap_group(process)
        process.communicate(timeout=10)
