"""The files every invitation carries besides its letter (`[campaign] attachments`): the plan, the agenda.

They come from the campaign folder only, like the recipients file and the templates: a folder from someone
else must not make us send other files of this computer. They are checked when the campaign is loaded
(present, inside the folder, not too big for mail servers together), then read and encoded once for the
whole campaign: every message carries the same MIME parts.
"""

from __future__ import annotations

import mimetypes
from email.utils import encode_rfc2231
from pathlib import Path

from .i18n import _

# Many mail servers refuse messages over 20-25 MB; base64 makes files a third bigger, and the letter's PDF
# and the bodies come on top.
LIMIT = 10 * 1024 * 1024


def problems(values: list[str], folder: Path) -> list[str]:
    """What is wrong with the attachments listed (as written in campaign.toml), each in a sentence."""
    found, total = [], 0
    for value in values:
        target = (folder / value).resolve()
        if not target.is_relative_to(folder):
            # TRANSLATORS: {value} is a path as written in campaign.toml.
            found.append(
                _(
                    "“{value}” is outside the campaign folder; keep it inside the folder that holds campaign.toml"
                ).format(value=value)
            )
        elif not target.is_file():
            # TRANSLATORS: {value} is a file named in [campaign] attachments of campaign.toml
            found.append(_("“{value}” was not found in the campaign folder").format(value=value))
        else:
            total += target.stat().st_size
    if total > LIMIT:
        # TRANSLATORS: {size} and {limit} are in megabytes ("12.5", "10")
        message = _(
            "the attachments come to {size} MB, over {limit} MB: many mail servers refuse such emails; "
            "send a link to the files instead, or make them smaller"
        )
        found.append(message.format(size=f"{total / 1024 / 1024:.1f}", limit=LIMIT // 1024 // 1024))
    return found


def encoded(paths: tuple[Path, ...]) -> tuple[str, ...]:
    """Each file as a MIME part (headers and base64 body, CRLF line ends), read and encoded once."""
    from .compose import CRLF, base64_lines, field

    parts = []
    for path in paths:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = [
            f"Content-Type: {content_type}",
            "Content-Transfer-Encoding: base64",
            field("Content-Disposition", disposition(path.name)),
        ]
        parts.append(CRLF.join(headers) + CRLF + CRLF + base64_lines(path.read_bytes()))
    return tuple(parts)


def disposition(name: str) -> str:
    """`attachment; filename="…"`; a name beyond ASCII (or with a quote) in RFC 2231 form, as the email
    package writes it."""
    if name.isascii() and not set(name) & set('"\\'):
        return f'attachment; filename="{name}"'
    return f"attachment; filename*={encode_rfc2231(name, 'utf-8')}"
