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

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mailmerge import tokens

from .conftest import set_table
from .smtp_server import ScriptedHandler

RECIPIENTS = 320
KILLS = 12
SEED = 20200828
START_UP_KILLS = 4  # the others land mid-send
MID_SEND_WINDOW = 0.2  # seconds after a run's first message reached the server
MAX_PER_KILLED_RUN = 24  # ... or as soon as it delivered this many: 12 x 24 < 320, so work is always left
RUN_TIMEOUT = 30.0
TIME_BUDGET = 60.0
KIND = "invitation"

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Thanh", "Ngọc", "Quốc", "Thị Kim", "Đức", "Thu"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Hà", "Hải", "Hạnh", "Khánh", "Lan", "Long", "Mai", "Nam", "Phúc", "Sơn", "Tâm"]
GROUPS = [
    ("Quận", "Ủy ban nhân dân Quận 5", "Phó Chủ tịch"),
    ("Phường", "Ủy ban MTTQ Việt Nam Phường {k}", "Chủ tịch Ủy ban MTTQ phường"),
    ("Khu phố", "Ban điều hành Khu phố {k}, Phường {k}", "Trưởng ban"),
]


# --- the campaign ---------------------------------------------------------------------------------


def recipient_row(n: int) -> str:
    k = n % 15 + 1  # the ward
    family, middle, given = FAMILY[n % len(FAMILY)], MIDDLE[n // 3 % len(MIDDLE)], GIVEN[n // 7 % len(GIVEN)]
    group, organisation, position = GROUPS[n % len(GROUPS)]
    salutation = "Bà" if "Thị" in middle or "Thu" in middle else "Ông"
    cc = f"vanphong@phuong{k}.example" if n % 10 == 0 else ""
    cells = [
        str(n),
        group,
        organisation.format(k=k),
        position,
        salutation,
        f"{family} {middle} {given}",
        f"khach{n}@phuong{k}.example",
        cc,
        f"028 3855 {n:04d}",
    ]
    return ",".join(f'"{cell}"' if "," in cell else cell for cell in cells)


def write_recipients(folder: Path, count: int) -> None:
    header = "order,group,organisation,position,salutation,name,email,cc,phone"
    rows = [header, *(recipient_row(n) for n in range(1, count + 1))]
    (folder / "recipients.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def prepare_campaign(folder: Path, port: int) -> str:
    """320 text-only invitations to the test's server; returns the campaign slug."""
    write_recipients(folder, RECIPIENTS)
    section = tomllib.loads((folder / "campaign.toml").read_text(encoding="utf-8"))["campaign"]
    set_table(folder, "campaign", {**section, "attach_pdf": False})  # set_table replaces the whole table
    set_table(folder, "smtp", {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5})
    return section["slug"]


# --- running mailmerge ----------------------------------------------------------------------------


def mailmerge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailmerge", *args]


def start_send(folder: Path, env: dict[str, str], connections: int) -> subprocess.Popen:
    # A session of its own: after the crash the render pool's orphans can be reaped by process group.
    return subprocess.Popen(
        mailmerge_command("send", "--yes", "--campaign", str(folder), "--connections", str(connections)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def reap_group(process: subprocess.Popen) -> None:
    """SIGKILL whatever the dead run left behind in its process group (the spawned render workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def explain(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=5)
    return f"exit {process.returncode}\nstdout: {out.decode()}\nstderr: {err.decode()}"


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


def run_to_end(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        mailmerge_command(*args, "--campaign", str(folder)), env=env, capture_output=True, timeout=RUN_TIMEOUT
    )


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


# --- reading the ledger ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    recipient_id: str
    message_id: str
    state: str


def ledger_path(folder: Path) -> Path:
    return folder / "ledger.db"


def query(folder: Path, sql: str, params: tuple = ()) -> list[tuple]:
    if not ledger_path(folder).exists():
        return []
    connection = sqlite3.connect(ledger_path(folder))
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def ledger_messages(folder: Path) -> list[Row]:
    return [
        Row(*row)
        for row in query(folder, "SELECT recipient_id, message_id, state FROM messages WHERE kind = ?", (KIND,))
    ]


def ledger_states(folder: Path) -> Counter[str]:
    return Counter(row.state for row in ledger_messages(folder))


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
    slug = prepare_campaign(campaign_dir, server.port)
    key_file = tmp_path / "token.key"
    key = tokens.load_key(key_file)  # created once, before any kill: every run signs with the same key
    env = {**os.environ, tokens.KEY_FILE_ENV: str(key_file)}
    everyone = {str(n) for n in range(1, RECIPIENTS + 1)}
    sender = tomllib.loads((campaign_dir / "campaign.toml").read_text(encoding="utf-8"))["sender"]["email"]
    domain = sender.rpartition("@")[2]
    expected_ids = {rid: tokens.message_id(key, slug, rid, KIND, domain) for rid in everyone}
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

    # The last run, not killed: it settles the cut-off ones as unknown and sends everyone else.
    last_started = time.monotonic()
    last = run_to_end(campaign_dir, env, "send", "--yes", "--connections", "2")
    last_seconds = time.monotonic() - last_started
    assert last.returncode == 0, last.stdout.decode() + last.stderr.decode()
    assert len(handler.received) > delivered_by_kills
    print(f"ledger before the last run: {dict(before_last)}; {len(cut_off_mid_message)} cut off mid-send by a kill")
    print(f"last run: {last_seconds:.2f}s, {len(handler.received) - delivered_by_kills} delivered")

    rows = ledger_messages(campaign_dir)
    received = handler.count_by_message_id()
    by_state = Counter(row.state for row in rows)
    sent = {row.message_id for row in rows if row.state == "sent"}
    unknown = {row.message_id for row in rows if row.state == "unknown"}
    print(f"ledger: {dict(by_state)}; received {len(handler.received)} messages, {len(received)} distinct")

    assert Counter(row.recipient_id for row in rows) == Counter(everyone), "not exactly one message per recipient"
    assert {row.recipient_id: row.message_id for row in rows} == expected_ids, "a Message-ID changed between runs"
    assert set(by_state) <= {"sent", "unknown"}, f"left in another state: {dict(by_state)}"
    assert unknown == cut_off_mid_message, "unknown must be exactly the messages a kill cut off mid-send"
    assert all(received.get(message_id) == 1 for message_id in sent), "a `sent` message not received exactly once"
    assert all(received.get(message_id, 0) <= 1 for message_id in unknown), "an unknown message was resent"
    assert set(received) <= set(expected_ids.values()), "the server got a message that is not in the ledger"
    assert set(received) | unknown == set(expected_ids.values()), "somebody got nothing and is not in doubt"
    assert max(received.values()) == 1, "a Message-ID was received twice"
    events = event_counts(campaign_dir)
    assert all(events.get((message_id, "sent")) == 1 for message_id in sent), "sent must be logged exactly once"
    assert all(events.get((message_id, "unknown")) == 1 for message_id in unknown)

    report = run_to_end(campaign_dir, env, "status", "--json")
    assert report.returncode == 0, report.stderr.decode()
    totals = json.loads(report.stdout)["totals"]
    assert totals["recipients"] == RECIPIENTS
    assert totals["by_state"] == dict(by_state)

    if unknown:
        # `resend --unknown` is the user confirming that the messages in doubt may go again. Those the
        # server had in fact received arrive a second time: at most twice, with the same Message-ID so the
        # recipient's server or mail client can recognise the duplicate. That is the documented price of
        # the user's choice, not something `send` ever does by itself.
        resend = run_to_end(campaign_dir, env, "resend", "--unknown", "--yes")
        assert resend.returncode == 0, resend.stdout.decode() + resend.stderr.decode()
        after = handler.count_by_message_id()
        assert {row.state for row in ledger_messages(campaign_dir)} == {"sent"}
        assert set(after) == set(expected_ids.values())
        assert all(after[message_id] == 1 for message_id in sent), "a message already sent went again"
        assert all(after[message_id] == received.get(message_id, 0) + 1 for message_id in unknown)
        assert max(after.values()) <= 2
        print(f"resend --unknown: {len(unknown)} resent, {sum(after[m] == 2 for m in unknown)} of them twice")

    elapsed = time.monotonic() - test_started
    print(f"the whole test took {elapsed:.1f}s")
    assert elapsed <= TIME_BUDGET


def test_render_workers_leave_when_send_is_killed(campaign_dir, smtp, tmp_path):
    """A SIGKILLed `send` cannot shut its render pool down; the workers must notice and exit by themselves."""
    handler, server = smtp
    prepare_campaign(campaign_dir, server.port)
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


def wait_for_deliveries(handler: ScriptedHandler, process: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(handler.received) < count:
        assert time.monotonic() < deadline and process.poll() is None, explain(process)
        time.sleep(0.01)


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_a_send_cleanly(campaign_dir, smtp, tmp_path):
    """Ctrl-C reaches the whole foreground process group: one short message, no tracebacks from the
    render workers, and whatever was in flight is reported as in doubt, never as sent."""
    handler, server = smtp
    prepare_campaign(campaign_dir, server.port)
    process = start_send(campaign_dir, {**os.environ, tokens.KEY_FILE_ENV: str(tmp_path / "token.key")}, 2)
    try:
        wait_for_deliveries(handler, process, 5)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        reap_group(process)
    assert process.returncode == 130
    assert "Interrupted." in stderr.decode() and "Traceback" not in stderr.decode()
    states = ledger_states(campaign_dir)
    assert states["sent"] >= 5 and states["queued"] > 0 and states["sending"] + states["unknown"] <= 2
