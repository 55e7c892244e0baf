"""Letters already laid out are not laid out again: the cache of PDFs in the campaign folder, its key (the
letter, the templates folder, the page settings), `check`'s pruning and `mailmerge clean`."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailmerge.cli.commands import app
from mailmerge.letters_cache import CACHE_DIR
from mailmerge.merge import load
from mailmerge.render import Renderer

from .campaign_files import keep_first_rows, set_table


@pytest.fixture
def three(campaign_dir: Path) -> Path:
    keep_first_rows(campaign_dir, 3)
    return campaign_dir


def render_all(folder: Path, change=None) -> tuple[Renderer, list[bytes]]:
    """A new renderer (as a new run has) and the PDFs of everyone, `change` applied to each recipient."""
    loaded = load(folder)
    renderer = Renderer(loaded.campaign)
    recipients = [change(r) if change else r for r in loaded.recipients]
    return renderer, [renderer.render(recipient).pdf for recipient in recipients]


def cached(folder: Path) -> list[Path]:
    return sorted((folder / CACHE_DIR).glob("*.pdf"))


def test_a_second_run_lays_nothing_out_and_gets_the_same_bytes(three):
    first, pdfs = render_all(three)
    assert first.laid_out == 3 and len(cached(three)) == 3
    again, same = render_all(three)
    assert again.laid_out == 0 and same == pdfs
    assert {hashlib.sha256(pdf).hexdigest() for pdf in pdfs} == {
        hashlib.sha256(path.read_bytes()).hexdigest() for path in cached(three)
    }


def test_a_changed_recipient_template_or_page_setting_is_laid_out_again(three):
    render_all(three)
    renamed, _ = render_all(three, change=lambda r: dataclasses.replace(r, name="Lê Văn Tám") if r.order == 2 else r)
    assert renamed.laid_out == 1
    css = three / "templates" / "letter.css"
    css.write_text(css.read_text(encoding="utf-8") + "\nh1 { letter-spacing: 0.5pt; }\n", encoding="utf-8")
    restyled, _ = render_all(three)
    assert restyled.laid_out == 3
    set_table(
        three,
        "page",
        {"size": "A4", "margin_top": "25mm", "margin_bottom": "20mm", "margin_left": "30mm", "margin_right": "15mm"},
    )
    remargined, _ = render_all(three)
    assert remargined.laid_out == 3


def test_a_letter_from_the_cache_warns_as_it_did_when_laid_out(three):
    letter = three / "templates" / "letter.html"
    letter.write_text(letter.read_text(encoding="utf-8").replace("<h1>", '<h1 style="colr: red">'), encoding="utf-8")
    first, _ = render_all(three)
    again, _ = render_all(three)
    assert again.laid_out == 0
    assert [w for w in again.warnings if "colr" in w] == [w for w in first.warnings if "colr" in w] != []


def test_check_reuses_and_prunes_and_clean_empties_the_cache(three):
    runner = CliRunner()
    assert runner.invoke(app, ["check", "--campaign", str(three)]).exit_code == 0
    render_all(three, change=lambda r: dataclasses.replace(r, name="Lê Văn Tám"))  # three letters nobody sends
    assert len(cached(three)) == 6
    again = runner.invoke(app, ["check", "--campaign", str(three)])
    assert again.exit_code == 0, again.output
    assert "3 of them came from the cache of letters already laid out" in again.output
    assert len(cached(three)) == 3  # the stale ones are gone
    cleaned = runner.invoke(app, ["clean", "--campaign", str(three)])
    assert cleaned.exit_code == 0 and "Deleted 3 cached letters" in cleaned.output
    assert not (three / CACHE_DIR).exists()
    assert render_all(three)[0].laid_out == 3


def test_a_cache_that_cannot_be_written_is_not_used(three):
    (three / ".cache").write_text("not a folder")  # as a read-only or full disk would refuse it
    renderer, pdfs = render_all(three)
    assert renderer.laid_out == 3 and all(pdf.startswith(b"%PDF") for pdf in pdfs)
    assert render_all(three)[0].laid_out == 3
