"""Build hook: compile the translations (locale/*/LC_MESSAGES/mailmerge.po -> .mo) into the package.

The .mo files are build output, never committed; an editable install (`make` runs `pip install -e`)
compiles them in place, so the catalogs a checkout uses are always those its .po files say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogs(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        root = Path(self.root)
        for po_path in sorted((root / "mailmerge" / "locale").glob("*/LC_MESSAGES/*.po")):
            with po_path.open("rb") as stream:
                catalog = read_po(stream)
            mo_path = po_path.with_suffix(".mo")
            with mo_path.open("wb") as stream:
                write_mo(stream, catalog, use_fuzzy=False)
            build_data["artifacts"].append(mo_path.relative_to(root).as_posix())
