"""A ledger that cannot be written (immutable file, read-only disk, full disk) stops `send` with a clear error
before anything is sent, and `status` still shows what the ledger holds.

These are real faults, made as root: `chattr +i`, a tmpfs remounted read-only, a tmpfs filled to the last
byte. Without root (a developer's machine) they are skipped; CI runs as root."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailmerge.cli.commands import app

from .conftest import SEED
from .real_send import (
    assert_exactly_once_or_in_doubt,
    ledger_messages,
    output,
    prepare_run,
    run_to_end,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for chattr and mount")
runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def send(folder: Path, *extra: object):
    return run("send", "--campaign", folder, "--yes", *extra)


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


@contextlib.contextmanager
def half_sent_on_small_disk(send_dir: Path, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(disk, campaign folder): the campaign on a tmpfs of its own, two of its five invitations sent."""
    with tmpfs(tmp_path / "disk", "8m") as disk:
        folder = disk / "campaign"
        shutil.copytree(send_dir, folder)
        assert send(folder, "--limit", 2).exit_code == 0
        yield disk, folder


def assert_clean_refusal(result, reason: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "cannot write the ledger" in result.output and reason in result.output


def test_an_immutable_ledger_stops_send_before_anything_is_sent(send_dir, smtp):
    handler, _ = smtp
    assert send(send_dir, "--limit", 2).exit_code == 0
    ledger = send_dir / "ledger.db"
    subprocess.run(["chattr", "+i", str(ledger)], check=True)
    try:
        result = send(send_dir)
        assert_clean_refusal(result, "read-only")
        assert len(handler.received) == 2
        status = run("status", "--campaign", send_dir, "--json")
        assert status.exit_code == 0, status.output
        assert '"sent": 2' in status.output
    finally:
        subprocess.run(["chattr", "-i", str(ledger)], check=True)
    assert send(send_dir).exit_code == 0
    assert len(handler.received) == 5


def test_a_read_only_disk_stops_send_and_status_still_reads_it(send_dir, smtp, tmp_path):
    handler, _ = smtp
    with half_sent_on_small_disk(send_dir, tmp_path) as (disk, folder):
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        assert_clean_refusal(send(folder), "read-only")
        assert len(handler.received) == 2
        status = run("status", "--campaign", folder, "--json")
        assert status.exit_code == 0, status.output
        assert '"sent": 2' in status.output and '"new": 3' in status.output


def fill(disk: Path) -> None:
    """Write until the disk refuses another byte."""
    with contextlib.suppress(OSError), open(disk / "filler", "wb") as stream:
        while True:
            stream.write(b"\0" * 4096)
            stream.flush()


def test_a_full_disk_stops_send_before_anything_is_sent(send_dir, smtp, tmp_path):
    handler, _ = smtp
    with half_sent_on_small_disk(send_dir, tmp_path) as (disk, folder):
        fill(disk)
        assert_clean_refusal(send(folder), "disk is full")
        assert len(handler.received) == 2
        (disk / "filler").unlink()
        assert send(folder).exit_code == 0
        assert len(handler.received) == 5


def test_a_ledger_in_a_folder_that_cannot_be_written_is_refused_before_anything_is_sent(send_dir, smtp, tmp_path):
    handler, _ = smtp
    subprocess.run(["chattr", "+i", str(send_dir)], check=True)
    try:
        assert_clean_refusal(send(send_dir), "read-only")
    finally:
        subprocess.run(["chattr", "-i", str(send_dir)], check=True)
    assert handler.received == []


RECIPIENTS = 200
FREE_KIB = 1200  # the ledger's journal fills this after some 15-20 messages of a 200-recipient send


def leave_free(disk: Path, kib: int) -> None:
    """Fill the disk but for `kib` KiB."""
    stats = os.statvfs(disk)
    with open(disk / "filler", "wb") as stream:
        stream.write(bytes(stats.f_bavail * stats.f_frsize - kib * 1024))


def test_a_disk_that_fills_up_during_a_send_stops_it_cleanly_and_nothing_goes_twice(smtp, tmp_path, token_key):
    handler, server = smtp
    with tmpfs(tmp_path / "disk", "16m") as disk:
        folder = disk / "campaign"
        shutil.copytree(SEED / "templates", folder / "templates")
        shutil.copy(SEED / "campaign.toml", folder)
        expected, env = prepare_run(folder, server.port, RECIPIENTS, token_key)
        leave_free(disk, FREE_KIB)
        first = run_to_end(folder, env, "send", "--yes")
        text = output(first)
        assert first.returncode == 2, text
        assert "Traceback" not in text
        assert "cannot write the ledger" in text and "the disk is full" in text
        delivered = len(handler.received)
        assert 0 < delivered < RECIPIENTS, text
        sent = sum(1 for row in ledger_messages(folder) if row.state == "sent")
        assert f"{sent} messages were sent in this run before that" in text
        received = set(handler.count_by_message_id())
        states = {row.message_id: row.state for row in ledger_messages(folder)}
        assert all(states[message_id] in ("sent", "sending") for message_id in received), "received, not recorded"
        assert {m for m, state in states.items() if state == "sent"} <= received, "recorded as sent, never received"

        (disk / "filler").unlink()
        second = run_to_end(folder, env, "send", "--yes")
        assert second.returncode in (0, 2), output(second)  # 2: a message cut off by the full disk is in doubt
        assert_exactly_once_or_in_doubt(folder, handler, expected)
