"""Commands start with only what they need: `--help`, `status`, `export` and `replies` must not load the letter
layout (WeasyPrint, pypdf), the Excel writer or the SMTP client. Each runs in a fresh interpreter, as a user
starts it, and reports which of those modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("weasyprint", "pypdf", "openpyxl", "aiosmtplib")
PROBE = """
import json, sys
sys.argv = ["mailmerge", *json.loads(sys.argv[1])]
from mailmerge.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(name for name in {heavy} if name in sys.modules)), file=sys.stderr)
"""


def loaded(args: list[str], cwd: Path) -> list[str]:
    code = PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["status"],
        ["status", "--json"],
        ["export", "--format", "json"],
        ["export", "--format", "csv"],
        ["replies", "list"],
        ["send", "--help"],
        ["report", "--help"],
    ],
)
def test_commands_that_need_no_letters_or_smtp_start_without_them(args, campaign_dir):
    assert loaded(args, campaign_dir) == []


def test_check_loads_the_letter_layout_when_it_runs(campaign_dir):
    assert loaded(["check"], campaign_dir) == ["pypdf", "weasyprint"]
