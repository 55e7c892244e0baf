"""Signed tokens that tie a reply or a bounce back to its campaign and recipient.

The token is an HMAC of (campaign, recipient, kind) under a key that lives outside the campaign folder
and the repository, created on first use. It goes into the Message-ID and, as a second route for
providers that replace Message-IDs, into a plus-addressed Reply-To.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from .errors import MailmergeError
from .i18n import _

KEY_FILE_ENV = "MAILMERGE_KEY_FILE"
SIGNATURE_LENGTH = 16


def key_file() -> Path:
    if configured := os.environ.get(KEY_FILE_ENV):
        return Path(configured)
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "mailmerge" / "token.key"


def load_key(path: Path | None = None) -> bytes:
    """The signing key, created (mode 0600) the first time it is needed.

    Created whole or not at all (written aside, then linked into place), so a crash or two first runs
    at once can never leave an empty key behind."""
    path = path or key_file()
    try:
        if not path.exists():
            create_key(path)
        key = path.read_bytes()
    except OSError as error:
        # TRANSLATORS: {path} is the key file; {reason} is the operating system's explanation.
        message = _("cannot read or create the token key {path}: {reason}")
        raise MailmergeError(message.format(path=path, reason=error.strerror)) from None
    if len(key) < 16:
        raise MailmergeError(
            # TRANSLATORS: {path} is the key file that signs the Message-IDs and Reply-To addresses.
            _(
                "the token key {path} is too short; restore it from a backup (replies to messages "
                "already sent are matched with it)"
            ).format(path=path)
        )
    return key


def create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=".token-")  # mode 0600
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(secrets.token_bytes(32))
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            os.link(partial, path)
    finally:
        os.unlink(partial)


def sign(key: bytes, *parts: str) -> str:
    digest = hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:SIGNATURE_LENGTH]


def message_id(key: bytes, campaign: str, recipient_id: str, kind: str, domain: str) -> str:
    """`<campaign.recipient.kind.signature@domain>` — the same for the same message, so a resend after an
    unknown outcome lets the receiving servers recognise a duplicate."""
    return f"<{campaign}.{recipient_id}.{kind}.{sign(key, campaign, recipient_id, kind)}@{domain}>"


def reply_address(key: bytes, campaign: str, recipient_id: str, sender_email: str) -> str:
    """`local+recipient.signature@domain`: kept short, the signature also covers the campaign."""
    local, _at, domain = sender_email.rpartition("@")
    return f"{local}+{recipient_id}.{sign(key, campaign, recipient_id)[:12]}@{domain}"
