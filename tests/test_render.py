"""Letters are really rendered with WeasyPrint and read back: geometry, fonts, wording, the fetcher jail."""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import unicodedata
from pathlib import Path

import pdfplumber
import pytest

from mailmerge.campaign import load_campaign
from mailmerge.errors import TemplateError
from mailmerge.render import Renderer

MM = 72 / 25.4
A4 = (210 * MM, 297 * MM)


@pytest.fixture(scope="module")
def seed_renderer(seed_campaign) -> Renderer:
    return Renderer(seed_campaign)


def words(pdf: bytes) -> list[dict]:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [w for page in document.pages for w in page.extract_words(extra_attrs=["fontname", "size"])]


def page_text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return "\n".join(page.extract_text() for page in document.pages)


def line_of(pdf: bytes, first_word: str) -> list[dict]:
    """The words on the same line as the first occurrence of `first_word`."""
    all_words = words(pdf)
    anchor = next(w for w in all_words if w["text"] == first_word)
    return [w for w in all_words if abs(w["top"] - anchor["top"]) < 2]


def test_letter_is_a4_with_the_decree_margins(seed_renderer, seed_recipients):
    longest = max(seed_recipients, key=lambda r: len(r.position + r.organisation))
    pdf = seed_renderer.render(longest).pdf
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            assert (page.width, page.height) == pytest.approx(A4, abs=0.5)
            assert min(c["x0"] for c in page.chars) >= 30 * MM - 0.01
            assert max(c["x1"] for c in page.chars) <= page.width - 15 * MM
            assert min(c["top"] for c in page.chars) >= 20 * MM - 0.01


def test_recipient_line_names_them_in_nfc(seed_renderer, seed_recipients):
    recipient = seed_recipients[0]
    text = page_text(seed_renderer.render(recipient).pdf)
    assert unicodedata.is_normalized("NFC", text)
    flat = " ".join(text.split())
    assert f"trân trọng kính mời: {recipient.salutation} {recipient.name} – {recipient.position}" in flat
    assert recipient.organisation in flat


def test_title_heading_and_sizes_follow_the_decree(seed_renderer, seed_recipients):
    pdf = seed_renderer.render(seed_recipients[5]).pdf
    title = line_of(pdf, "GIẤY")
    assert " ".join(w["text"] for w in title) == "GIẤY MỜI"
    assert all("Bold" in w["fontname"] and w["size"] == pytest.approx(14, abs=0.1) for w in title)
    heading = line_of(pdf, "CỘNG")
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in " ".join(w["text"] for w in heading)
    assert all(12 <= w["size"] <= 13 and "Bold" in w["fontname"] for w in heading if w["x0"] > 250)
    motto = [w for w in line_of(pdf, "Độc") if w["x0"] > 250]
    assert " ".join(w["text"] for w in motto) == "Độc lập - Tự do - Hạnh phúc"
    assert all(w["size"] >= 13 and "Bold" in w["fontname"] for w in motto)
    place_date = line_of(pdf, "Quận")
    assert any("Italic" in w["fontname"] for w in place_date)
    nơi_nhận = line_of(pdf, "Nơi")
    assert "Bold-Italic" in nơi_nhận[0]["fontname"] and nơi_nhận[0]["size"] == pytest.approx(12, abs=0.1)
    text = " ".join(page_text(pdf).split())
    for expected in (
        "Số: 58/GM-MTTQ-BTT",
        "Quận 5, ngày 21 tháng 8 năm 2020",
        "Thời gian: 08 giờ 00, thứ Sáu, ngày 28 tháng 8 năm 2020",
        "Địa điểm: Hội trường 118 Ngô Quyền, Phường 8, Quận 5",
        "TM. BAN THƯỜNG TRỰC",
        "PHÓ CHỦ TỊCH",
        "Trương Thị Kim Xuyên",
        "- Lưu: VT.",
    ):
        assert expected in text


def test_small_numbers_and_early_months_are_zero_padded(campaign_dir, seed_recipients):
    toml = campaign_dir / "campaign.toml"
    text = toml.read_text(encoding="utf-8").replace('number = "58"', 'number = "5"')
    toml.write_text(text.replace("date = 2020-08-21", "date = 2020-02-03"), encoding="utf-8")
    pdf = Renderer(load_campaign(campaign_dir)).render(seed_recipients[0]).pdf
    flat = " ".join(page_text(pdf).split())
    assert "Số: 05/GM-MTTQ-BTT" in flat
    assert "Quận 5, ngày 03 tháng 02 năm 2020" in flat


def test_every_font_is_embedded_and_times_metric(seed_renderer, seed_recipients, tmp_path):
    pdf_file = tmp_path / "letter.pdf"
    pdf_file.write_bytes(seed_renderer.render(seed_recipients[0]).pdf)
    listing = subprocess.run(["pdffonts", str(pdf_file)], capture_output=True, text=True, check=True).stdout
    rows = listing.splitlines()[2:]
    assert rows, listing
    for row in rows:
        name, *_rest = row.split()
        assert re.search(r"\+(Tinos|LiberationSerif|TimesNewRoman)", name), row
        assert row.split()[-5] == "yes", f"not embedded: {row}"


def test_merge_data_is_never_evaluated_as_a_template(seed_renderer, seed_recipients):
    recipient = dataclasses.replace(seed_recipients[0], name="{{ 7 * 7 }} <b>Lê</b>")
    letter = seed_renderer.render(recipient)
    assert "{{ 7 * 7 }} <b>Lê</b>" in " ".join(page_text(letter.pdf).split())
    assert "{{ 7 * 7 }} &lt;b&gt;Lê&lt;/b&gt;" in letter.html
    assert "{{ 7 * 7 }} <b>Lê</b>" in letter.text


def test_a_misspelt_field_names_template_line_and_row(campaign_dir, seed_recipients):
    template = campaign_dir / "templates" / "email.txt"
    lines = template.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "{{ recipient.nickname }}")
    template.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        Renderer(load_campaign(campaign_dir)).render(seed_recipients[2])
    message = str(caught.value)
    assert "email.txt:3" in message and "nickname" in message
    assert f"row {seed_recipients[2].row}" in message


def test_a_template_syntax_error_names_file_and_line(campaign_dir):
    (campaign_dir / "templates" / "subject.txt").write_text("Giấy mời\n{% if %}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"subject.txt:2"):
        Renderer(load_campaign(campaign_dir))


def add_to_letter(campaign_dir: Path, markup: str) -> None:
    template = campaign_dir / "templates" / "letter.html"
    html = template.read_text(encoding="utf-8")
    template.write_text(html.replace("</head>", f"{markup}\n</head>"), encoding="utf-8")


@pytest.mark.parametrize(
    "markup",
    [
        '<link rel="attachment" href="file:///etc/passwd">',
        '<link rel="attachment" href="../campaign.toml">',
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">',
        '<link rel="attachment" href="evil-link">',
    ],
    ids=["absolute-file", "relative-escape", "network", "symlink-out"],
)
def test_fetcher_refuses_anything_outside_the_templates_folder(campaign_dir, seed_recipients, markup):
    (campaign_dir / "templates" / "evil-link").symlink_to("/etc/passwd")
    add_to_letter(campaign_dir, markup)
    with pytest.raises(TemplateError, match="only files under"):
        Renderer(load_campaign(campaign_dir)).render(seed_recipients[0])


def test_fetcher_serves_files_inside_the_templates_folder(campaign_dir, seed_recipients):
    (campaign_dir / "templates" / "program.txt").write_text("chương trình", encoding="utf-8")
    add_to_letter(campaign_dir, '<link rel="attachment" href="program.txt">')
    pdf = Renderer(load_campaign(campaign_dir)).render(seed_recipients[0]).pdf
    assert b"/EmbeddedFile" in pdf


def test_attachment_name_is_ascii(seed_renderer, seed_recipients):
    recipient = dataclasses.replace(seed_recipients[0], name="Đặng Thị Ánh Tuyết")
    assert seed_renderer.attachment_name(recipient) == "Giay-moi_58-GM-MTTQ-BTT_Dang-Thi-Anh-Tuyet.pdf"


def test_a_long_letter_numbers_its_pages_from_the_second(campaign_dir, seed_recipients):
    toml = campaign_dir / "campaign.toml"
    extra = "".join(
        f'  "Mục bổ sung {n}: phát biểu, thảo luận của các đơn vị về công trình thi đua.",\n' for n in range(25)
    )
    toml.write_text(toml.read_text(encoding="utf-8").replace("agenda = [\n", "agenda = [\n" + extra), encoding="utf-8")
    pdf = Renderer(load_campaign(campaign_dir)).render(seed_recipients[0]).pdf
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == 2
        first, second = ([c for c in page.chars if c["top"] < 20 * MM] for page in document.pages)
    assert first == []
    assert "".join(c["text"] for c in second) == "2"
    assert second[0]["size"] == pytest.approx(13, abs=0.1)


def test_the_seed_stylesheet_and_letter_give_no_warnings(seed_renderer, seed_recipients):
    seed_renderer.render(seed_recipients[0])
    assert seed_renderer.warnings == []


def test_a_missing_file_inside_the_templates_folder_is_named(campaign_dir, seed_recipients):
    add_to_letter(campaign_dir, '<link rel="attachment" href="programme.pdf">')
    with pytest.raises(TemplateError, match=r"programme.pdf was not found in the templates folder \(recipients row"):
        Renderer(load_campaign(campaign_dir)).render(seed_recipients[0])
