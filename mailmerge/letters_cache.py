"""Letters already laid out: a PDF is made again only when something it is made of has changed.

Laying out a letter is most of the work of `preview`, `check` and `send`. A second `preview`, a `resend`,
a reminder, or `check` after `send` would make the very same bytes again, so each PDF is kept under a key:
a sha256 of everything that decides its bytes. That covers the letter's HTML as filled for the recipient,
the page rule from `[page]`, and every file of the templates folder (letter.css, images, fonts). It also
covers the fonts the computer offers and the WeasyPrint version. A reminder therefore carries the
invitation's PDF byte for byte.

The files live in the campaign folder, under `.cache/letters/`. `mailmerge clean` deletes them, and `check`,
which lays out every letter, removes those that no letter uses any more. What WeasyPrint said while laying
a letter out (layout warnings) is kept beside it, so that a letter from the cache warns as it did.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

CACHE_DIR = Path(".cache") / "letters"
PDF, WARNINGS = ".pdf", ".warnings"


class LetterCache:
    """The laid-out letters of one campaign, by key."""

    def __init__(self, folder: Path, fingerprint: bytes):
        self.folder = folder
        self.fingerprint = fingerprint  # of everything but the letter's own HTML
        self.used: set[str] = set()

    def key(self, html: str) -> str:
        return hashlib.sha256(self.fingerprint + html.encode("utf-8")).hexdigest()

    def get(self, key: str) -> tuple[bytes, list[str]] | None:
        """The PDF and its layout warnings, or None when it was never made (or cannot be read)."""
        self.used.add(key)
        try:
            pdf = (self.folder / f"{key}{PDF}").read_bytes()
        except OSError:
            return None
        warnings = self.folder / f"{key}{WARNINGS}"
        return pdf, warnings.read_text(encoding="utf-8").splitlines() if warnings.exists() else []

    def put(self, key: str, pdf: bytes, warnings: list[str]) -> None:
        """Keep a letter, whole or not at all; a cache that cannot be written is simply not used."""
        self.used.add(key)
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            if warnings:
                write_whole(self.folder / f"{key}{WARNINGS}", "\n".join(warnings).encode("utf-8"))
            write_whole(self.folder / f"{key}{PDF}", pdf)

    def prune(self) -> int:
        """Remove the letters no rendering of this run used; returns how many."""
        removed = 0
        for path in cached_files(self.folder):
            if path.name.split(".", 1)[0] not in self.used:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += path.suffix == PDF
        return removed


def write_whole(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def cached_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{PDF}")) + sorted(folder.glob(f"*{WARNINGS}")) if folder.is_dir() else []


def clean(campaign_folder: Path) -> tuple[int, int]:
    """Delete every cached letter of the campaign: (letters, bytes) removed."""
    letters = size = 0
    folder = campaign_folder / CACHE_DIR
    for path in cached_files(folder):
        with contextlib.suppress(OSError):
            size += path.stat().st_size
            path.unlink()
            letters += path.suffix == PDF
    for empty in (folder, folder.parent):
        with contextlib.suppress(OSError):
            empty.rmdir()
    return letters, size


def fingerprint(templates_dir: Path, page_rule: str, weasyprint_version: str) -> bytes:
    """What every letter of a campaign is made of besides its own HTML."""
    digest = hashlib.sha256()
    for part in (page_rule, weasyprint_version):
        digest.update(part.encode("utf-8") + b"\0")
    for path in sorted(files_under([templates_dir])):
        digest.update(str(path.relative_to(templates_dir)).encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for path in sorted(files_under(font_folders())):
        with contextlib.suppress(OSError):
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
    return digest.digest()


def files_under(folders: Iterable[Path]) -> Iterator[Path]:
    for folder in folders:
        if folder.is_dir():
            yield from (path for path in folder.rglob("*") if path.is_file() and CACHE_DIR.parts[0] not in path.parts)


def font_folders() -> list[Path]:
    """Where fontconfig (Linux, macOS) or Windows finds the fonts a letter may use: a font added, removed or
    updated there changes every letter's key."""
    home = Path.home()
    if sys.platform == "win32":
        windows = Path(os.environ.get("WINDIR", r"C:\Windows"))
        local = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
        return [windows / "Fonts", local / "Microsoft" / "Windows" / "Fonts"]
    if sys.platform == "darwin":
        return [Path("/System/Library/Fonts"), Path("/Library/Fonts"), home / "Library" / "Fonts"]
    return [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), home / ".local/share/fonts", home / ".fonts"]
