"""Editing a campaign folder's files as a test or a script needs to: fewer rows, one table replaced."""

from __future__ import annotations

import re
from pathlib import Path


def keep_first_rows(campaign_dir: Path, count: int) -> None:
    """Shrink the campaign's recipients file to its header and first `count` rows."""
    path = campaign_dir / "recipients.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    path.write_text("".join(lines[: count + 1]), encoding="utf-8-sig")


def set_table(campaign_dir: Path, table: str, values: dict[str, object]) -> None:
    """Replace (or add) one [table] of the campaign's campaign.toml."""
    path = campaign_dir / "campaign.toml"
    text = path.read_text(encoding="utf-8")
    lines = [f"[{table}]"] + [f"{key} = {toml_value(value)}" for key, value in values.items()]
    block = "\n".join(lines) + "\n"
    pattern = re.compile(rf"^\[{re.escape(table)}\][^\n]*\n(?:(?!\[).*\n?)*", re.MULTILINE)
    text = pattern.sub(block + "\n", text, count=1) if pattern.search(text) else text + "\n" + block
    path.write_text(text, encoding="utf-8")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
