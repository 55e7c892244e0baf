"""Signed tokens that tie a reply or a bounce back to its campaign and recipient.

The token is an HMAC of (campaign, recipient, kind) under the key of the campaign's ledger, so the
campaign folder verifies its own tokens on any computer. The campaign is named by its slug and the
random identity `init` gave it, so two campaigns never share a Message-ID. It goes into the Message-ID
and, as a second route for providers that replace Message-IDs, into a plus-addressed Reply-To (a
different, shorter token).

Campaigns made before identities used one key per computer (`load_key`); their ledger takes that key
over the first time it needs one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import MailmergeError
from .i18n import _

KEY_FILE_ENV = "MAILMERGE_KEY_FILE"
SIGNATURE_LENGTH = 16


def new_key() -> bytes:
    return secrets.token_bytes(32)


def new_identity() -> str:
    """A campaign's random identity: a letter, then nine base32 letters and digits (50 bits)."""
    return secrets.choice("abcdefghijklmnopqrstuvwxyz") + base64.b32encode(secrets.token_bytes(6)).decode().lower()[:9]


def key_file() -> Path:
    if configured := os.environ.get(KEY_FILE_ENV):
        return Path(configured)
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "mailmerge" / "token.key"


def load_key(path: Path | None = None) -> bytes:
    """The per-computer key of campaigns made before identities, created (mode 0600) the first time it is
    needed.

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
            stream.write(new_key())
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


# campaign (the slug, then its identity: none for a campaign made before identities), recipient, kind, signature
MESSAGE_TOKEN = re.compile(
    r"^([a-z0-9][a-z0-9-]{0,39}(?:\.[a-z][a-z2-7]{9})?)\.([^.@\s]+)\.([a-z]+(?:-[0-9]+)?)\.([a-z2-7]{16})$"
)
REPLY_TOKEN = re.compile(r"^(.+)\+([^.+@\s]+)\.([a-z2-7]{12})$")


@dataclass(frozen=True)
class Token:
    """What a token says, and whether our key signed it (a forged or altered one has `valid` False)."""

    campaign: str | None
    recipient_id: str
    kind: str | None
    valid: bool


def read_message_id(key: bytes, message_id: str) -> Token | None:
    """A Message-ID (or a DSN's ENVID) of ours, read back; None when it is not in our format at all."""
    local = message_id.strip().strip("<>").partition("@")[0]
    match = MESSAGE_TOKEN.match(local)
    if not match:
        return None
    campaign, recipient_id, kind, signature = match.groups()
    return Token(campaign, recipient_id, kind, hmac.compare_digest(signature, sign(key, campaign, recipient_id, kind)))


def read_reply_address(key: bytes, address: str, sender_email: str, campaigns: Iterable[str]) -> Token | None:
    """A plus-address of `sender_email` (`local+recipient.signature@domain`), read back. The signature
    covers the campaign, which the address does not name: it is found among `campaigns`."""
    local, _at, domain = address.strip().lower().rpartition("@")
    sender_local, _at, sender_domain = sender_email.lower().rpartition("@")
    match = REPLY_TOKEN.match(local)
    if domain != sender_domain or not match or match.group(1) != sender_local:
        return None
    recipient_id, signature = match.group(2), match.group(3)
    for campaign in campaigns:
        if hmac.compare_digest(signature, sign(key, campaign, recipient_id)[:12]):
            return Token(campaign, recipient_id, None, True)
    return Token(None, recipient_id, None, False)
