"""A real `mailmerge send` subprocess against a big generated campaign, and what to check afterwards.

Shared by the crash test (SIGKILL) and the interrupt test (Ctrl-C): the campaign builder, starting and
reaping the process group, reading the ledger directly (SQLite), and the end state every run must reach:
each invitation received exactly once, or in doubt.
"""

from __future__ import annotations

import contextlib
import os
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

KIND = "invitation"
RUN_TIMEOUT = 30.0

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
    cells = [
        str(n),
        group,
        organisation.format(k=k),
        position,
        salutation,
        f"{family} {middle} {given}",
        invitee_address(n),
        f"vanphong@phuong{k}.example" if n % 10 == 0 else "",
        f"028 3855 {n:04d}",
    ]
    return ",".join(f'"{cell}"' if "," in cell else cell for cell in cells)


def invitee_address(n: int) -> str:
    return f"khach{n}@phuong{n % 15 + 1}.example"


def write_recipients(folder: Path, count: int) -> None:
    header = "order,group,organisation,position,salutation,name,email,cc,phone"
    rows = [header, *(recipient_row(n) for n in range(1, count + 1))]
    (folder / "recipients.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def prepare_campaign(folder: Path, port: int, count: int) -> str:
    """`count` text-only invitations to the test's server; returns the campaign slug."""
    write_recipients(folder, count)
    section = tomllib.loads((folder / "campaign.toml").read_text(encoding="utf-8"))["campaign"]
    set_table(folder, "campaign", {**section, "attach_pdf": False})  # set_table replaces the whole table
    set_table(folder, "smtp", {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5})
    return section["slug"]


def expected_message_ids(folder: Path, key_file: Path, slug: str, count: int) -> dict[str, str]:
    """recipient ID -> the Message-ID its invitation must have in every run (the key is created now)."""
    key = tokens.load_key(key_file)
    sender = tomllib.loads((folder / "campaign.toml").read_text(encoding="utf-8"))["sender"]["email"]
    domain = sender.rpartition("@")[2]
    return {str(n): tokens.message_id(key, slug, str(n), KIND, domain) for n in range(1, count + 1)}


def prepare_run(folder: Path, port: int, count: int, key_file: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A campaign of `count` recipients: the Message-ID each must get in every run, and the environment of
    a run (the key is created now, once, so every run signs with it)."""
    slug = prepare_campaign(folder, port, count)
    return expected_message_ids(folder, key_file, slug, count), {**os.environ, tokens.KEY_FILE_ENV: str(key_file)}


# --- running mailmerge ----------------------------------------------------------------------------


def mailmerge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailmerge", *args]


def start_send(folder: Path, env: dict[str, str], connections: int) -> subprocess.Popen:
    # A session of its own: signals can go to the whole process group (as a terminal sends Ctrl-C), and
    # after a crash the render pool's orphans can be reaped by process group.
    return subprocess.Popen(
        mailmerge_command("send", "--yes", "--campaign", str(folder), "--connections", str(connections)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def reap_group(process: subprocess.Popen) -> None:
    """SIGKILL whatever the run left behind in its process group (the spawned render workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def explain(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=5)
    return f"exit {process.returncode}\nstdout: {out.decode()}\nstderr: {err.decode()}"


def wait_for_deliveries(handler: ScriptedHandler, process: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(handler.received) < count:
        assert time.monotonic() < deadline and process.poll() is None, explain(process)
        time.sleep(0.002)


def run_to_end(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        mailmerge_command(*args, "--campaign", str(folder)), env=env, capture_output=True, timeout=RUN_TIMEOUT
    )


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout.decode() + result.stderr.decode()


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


# --- the end state --------------------------------------------------------------------------------


def assert_exactly_once_or_in_doubt(
    folder: Path, handler: ScriptedHandler, expected_ids: dict[str, str]
) -> tuple[set[str], set[str]]:
    """After a run that went to the end: everyone has their one invitation, `sent` (received exactly once)
    or `unknown` (received at most once); nobody is missing. Returns the Message-IDs sent and unknown."""
    rows = ledger_messages(folder)
    received = handler.count_by_message_id()
    by_state = Counter(row.state for row in rows)
    sent = {row.message_id for row in rows if row.state == "sent"}
    unknown = {row.message_id for row in rows if row.state == "unknown"}
    assert Counter(row.recipient_id for row in rows) == Counter(list(expected_ids)), "not exactly one message each"
    assert {row.recipient_id: row.message_id for row in rows} == expected_ids, "a Message-ID changed between runs"
    assert set(by_state) <= {"sent", "unknown"}, f"left in another state: {dict(by_state)}"
    assert all(received.get(message_id) == 1 for message_id in sent), "a `sent` message not received exactly once"
    assert all(received.get(message_id, 0) <= 1 for message_id in unknown), "an unknown message was resent"
    assert set(received) <= set(expected_ids.values()), "the server got a message that is not in the ledger"
    assert set(received) | unknown == set(expected_ids.values()), "somebody got nothing and is not in doubt"
    assert max(received.values()) == 1, "a Message-ID was received twice"
    return sent, unknown


def resend_unknown_and_check(
    folder: Path, env: dict[str, str], handler: ScriptedHandler, sent: set[str], unknown: set[str]
) -> None:
    """`mailmerge resend --unknown` is the user confirming that the messages in doubt may go again. Those the
    server had in fact received arrive a second time: at most twice, with the same Message-ID so the
    recipient's server or mail client can recognise the duplicate. That is the documented price of the
    user's choice, not something `send` ever does by itself."""
    received = handler.count_by_message_id()
    resend = run_to_end(folder, env, "resend", "--unknown", "--yes")
    assert resend.returncode == 0, output(resend)
    after = handler.count_by_message_id()
    assert {row.state for row in ledger_messages(folder)} == {"sent"}
    assert set(after) == sent | unknown
    assert all(after[message_id] == 1 for message_id in sent), "a message already sent went again"
    assert all(after[message_id] == received.get(message_id, 0) + 1 for message_id in unknown)
    assert max(after.values()) <= 2
    print(f"resend --unknown: {len(unknown)} resent, {sum(after[m] == 2 for m in unknown)} of them twice")
