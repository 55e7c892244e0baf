"""`mailmerge clean`: delete what the campaign keeps only to go faster."""

from __future__ import annotations

from pathlib import Path

from ..i18n import _, ngettext
from .app import CampaignOption, app, out, reporting


@app.command(help=_("Delete the cache of letters already laid out (they are laid out again when needed)."))
def clean(campaign: CampaignOption = Path(".")) -> None:
    from ..letters_cache import clean as clean_cache

    with reporting():
        letters, size = clean_cache(campaign)
    # TRANSLATORS: after `mailmerge clean`; {size} is in megabytes, "1.4"
    message = ngettext(
        "Deleted {count} cached letter ({size} MB).", "Deleted {count} cached letters ({size} MB).", letters
    )
    out.print(message.format(count=letters, size=f"{size / 1_000_000:.1f}"))
