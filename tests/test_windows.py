"""Windows proxies. These machines have no Windows, so what can be proved on Linux is proved here: nothing
on any code path needs a POSIX-only module, the ledger lock still keeps a second sender out without them,
and the output is UTF-8 whatever code page the console or a redirected stream has.

The POSIX-only modules are made unimportable by a `sitecustomize` on PYTHONPATH, so they are missing in
the `mailmerge` process and in the render processes it spawns alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailmerge.ledger import Ledger

POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "resource", "grp", "pwd", "syslog", "crypt")


@pytest.fixture
def without_posix(tmp_path: Path) -> dict[str, str]:
    """An environment in which every POSIX-only module fails to import, as on Windows."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        f"import sys\nfor name in {POSIX_ONLY!r}:\n    sys.modules[name] = None\n", encoding="utf-8"
    )
    return {**os.environ, "PYTHONPATH": str(site)}


def mailmerge(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mailmerge", *map(str, args)], env=env, capture_output=True, timeout=120
    )


def test_every_module_imports_without_posix_only_modules(without_posix):
    code = (
        "import importlib, pkgutil, sys, mailmerge\n"
        "modules = pkgutil.walk_packages(mailmerge.__path__, 'mailmerge.')\n"
        "names = [m.name for m in modules if m.name != 'mailmerge.__main__']\n"
        "for name in names:\n    importlib.import_module(name)\n"
        "print(len(names), sys.modules['fcntl'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=without_posix, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    count, fcntl = result.stdout.split()
    assert int(count) > 20 and fcntl == "None"


def test_a_full_send_works_and_the_lock_still_keeps_a_second_sender_out(send_dir, smtp, without_posix):
    handler, _ = smtp
    ledger = Ledger(send_dir / "ledger.db")
    with ledger.exclusive():
        refused = mailmerge("send", "--yes", "--campaign", send_dir, env=without_posix)
    ledger.close()
    assert refused.returncode == 1, refused.stderr.decode()
    assert "another mailmerge process is sending" in refused.stderr.decode()
    assert handler.received == []

    sent = mailmerge("send", "--yes", "--campaign", send_dir, env=without_posix)
    assert sent.returncode == 0, sent.stderr.decode()
    assert "Sent 5, deferred 0, failed 0, unknown 0." in sent.stdout.decode()
    assert len(handler.received) == 5


@pytest.mark.parametrize("code_page", ["cp1252", "cp1258", "ascii"])
def test_vietnamese_output_survives_any_code_page(campaign_dir, code_page):
    (campaign_dir / "recipients.csv").write_text(
        "STT,Họ và tên,Thư điện tử,Danh xưng,Đơn vị,Chức vụ\n1,Nguyễn Văn Ấn,,Ông,UBND Phường 1,Chủ tịch\n",
        encoding="utf-8",
    )
    result = mailmerge("check", "--campaign", campaign_dir, env={**os.environ, "PYTHONIOENCODING": code_page})
    assert result.returncode == 1
    error = result.stderr.decode("utf-8")
    assert "Traceback" not in error
    assert "recipients.csv:2 [Thư điện tử]: is empty" in error
