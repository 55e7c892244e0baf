"""The files written for people (exports, reports), so that one is replaced only while it is ours."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database

from .storage import guarded


class WrittenFiles:
    """The `written_files` table of one ledger (`Ledger.written`)."""

    def __init__(self, db: Database, path: Path, now: Callable[[], str]):
        self.db = db
        self.path = path
        self.now = now

    @guarded
    def record(self, target: Path, sha256: str, size: int) -> None:
        """`target` (an absolute path) now holds what we wrote, of this sha256."""
        row = {"path": str(target), "sha256": sha256, "size": size, "written_at": self.now()}
        with self.db.atomic():
            self.db["written_files"].upsert(row, pk="path")

    @guarded
    def holds_ours(self, target: Path, sha256: str) -> bool:
        """Whether `target` still holds, byte for byte, the last file we wrote there."""
        if not self.db["written_files"].exists():  # a read-only ledger of an earlier release
            return False
        rows = self.db.execute("SELECT sha256 FROM written_files WHERE path = ?", [str(target)]).fetchall()
        return bool(rows) and rows[0][0] == sha256
