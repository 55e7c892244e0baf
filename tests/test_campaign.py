"""campaign.toml against its declared schema: wrong types, misspelt tables and keys, office date forms.

Every problem is reported at once, with the line of campaign.toml it is on, and never as a traceback or a
garbled letter."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from typer.testing import CliRunner

from mailmerge.campaign import load_campaign
from mailmerge.cli.commands import app
from mailmerge.errors import InputError
from mailmerge.officetime import OfficeTimeError, parse_date, parse_datetime
from mailmerge.render import Renderer

from .conftest import keep_first_rows
from .test_render import page_text

runner = CliRunner()


def edit(campaign_dir, old: str, new: str) -> None:
    """Replace one exact piece of the campaign's campaign.toml."""
    path = campaign_dir / "campaign.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(campaign_dir, start: str) -> int:
    """The 1-based line of campaign.toml that starts with `start`."""
    lines = (campaign_dir / "campaign.toml").read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(start))


def problems(campaign_dir) -> list[str]:
    with pytest.raises(InputError) as raised:
        load_campaign(campaign_dir)
    return [str(problem).split("campaign.toml", 1)[1] for problem in raised.value.problems]


def check(campaign_dir):
    return runner.invoke(app, ["check", "--campaign", str(campaign_dir)])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "starts_at = 2020-08-28T08:00:00",
            "starts_at = 2020-08-28",
            "[event.starts_at]: has a date but no time of day",
        ),
        ("timeout = 30", 'timeout = "30s"', "[smtp.timeout]: must be a number"),
        ("port = 587", 'port = "smtp"', "[smtp.port]: must be a whole number"),
        ("date = 2020-08-21", 'date = "31/02/2020"', "[document.date]: “31/02/2020” is not a date in the calendar"),
        ("date = 2020-08-21", 'date = "soon"', "[document.date]: “soon” is not a date"),
        ("starts_at = 2020-08-28T08:00:00", 'starts_at = "28/08/2020"', "[event.starts_at]: “28/08/2020” has no time"),
        ("reply_to_tokens = true", 'reply_to_tokens = "maybe"', "[sender.reply_to_tokens]: must be true or false"),
        ('email = "vanphong@mttq-quan5.example"', 'email = "vanphong"', "[sender.email]: “vanphong” is not a valid"),
        ('size = "A4"', 'size = "A7"', "[page.size]: “A7” is not a page size"),
        ('margin_top = "20mm"', 'margin_top = "20mm; } body { color: red"', "[page.margin_top]: “20mm; } body"),
        ('slug = "so-ket-200-ngay-gd2"', 'slug = "Sơ kết"', "[campaign.slug]: use 1-40 lowercase letters"),
        ('type_name = "GIẤY MỜI"', 'type_name = ["GIẤY MỜI"]', "[letter.type_name]: must be text in quotes"),
        ('title = "PHÓ CHỦ TỊCH"', 'title = """PHÓ\nCHỦ TỊCH"""', "[signature.title]: must be one line"),
        (
            'recipients = "recipients.csv"',
            'recipients = "../../etc/passwd"',
            "[campaign.recipients]: “../../etc/passwd”",
        ),
        ('templates = "templates"', 'templates = "/etc"', "[campaign.templates]: “/etc” is outside the campaign"),
    ],
)
def test_a_wrong_value_is_named_with_its_line(campaign_dir, old, new, expected):
    edit(campaign_dir, old, new)
    found = problems(campaign_dir)
    line = line_of(campaign_dir, new.splitlines()[0])
    assert any(problem.startswith(f":{line} {expected}") for problem in found), found


def test_every_problem_is_reported_at_once_through_the_cli(campaign_dir):
    edit(campaign_dir, "starts_at = 2020-08-28T08:00:00", "starts_at = 2020-08-28")
    edit(campaign_dir, "timeout = 30", 'timeout = "30s"')
    edit(campaign_dir, "date = 2020-08-21", 'date = "21/08/2020"')  # fine: an office date
    edit(campaign_dir, "[distribution]", "[sned]\nretries = 1\n\n[distribution]")
    edit(campaign_dir, 'place = "Hội trường', 'plcae = "Hội trường')
    result = check(campaign_dir)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "5 problems" in result.output
    assert f":{line_of(campaign_dir, '[sned]')} [sned]: unknown table [sned]; did you mean [send]?" in result.output
    assert f":{line_of(campaign_dir, 'plcae')} [event.plcae]: unknown key; did you mean “place”?" in result.output
    assert f":{line_of(campaign_dir, '[event]')} [event.place]: is required" in result.output
    assert "[smtp.timeout]" in result.output and "[event.starts_at]" in result.output


def test_a_missing_table_is_named(campaign_dir):
    edit(campaign_dir, "[signature]", "[signatures]")
    found = problems(campaign_dir)
    assert ": missing table [signature]" in found
    assert any("unknown table [signatures]; did you mean [signature]?" in problem for problem in found)


def test_an_unknown_key_in_a_settings_table_is_named_with_a_suggestion(campaign_dir):
    edit(campaign_dir, 'security = "starttls"', 'securty = "starttls"')
    assert any("[smtp.securty]: unknown setting; did you mean “security”?" in p for p in problems(campaign_dir))


def letter_text(campaign_dir) -> str:
    keep_first_rows(campaign_dir, 1)
    campaign = load_campaign(campaign_dir)
    from mailmerge.recipients import load_recipients

    recipient = load_recipients(campaign.recipients_file)[0]
    return page_text(Renderer(campaign).render(recipient).pdf)


def test_a_string_where_a_list_is_meant_is_one_line_not_one_character_per_line(campaign_dir):
    edit(campaign_dir, 'copies = ["Như trên", "BTT. UBMTTQ quận"]', 'copies = "Như trên"')
    edit(campaign_dir, 'parent_body = ["ỦY BAN MTTQ VIỆT NAM", "QUẬN 5"]', 'parent_body = "ỦY BAN MTTQ VIỆT NAM"')
    text = letter_text(campaign_dir)
    assert "- Như trên;" in text
    assert "ỦY BAN MTTQ VIỆT NAM" in text
    assert "\nN\n" not in text and "- N;" not in text


def test_office_date_forms_reach_the_letter(campaign_dir):
    edit(campaign_dir, "starts_at = 2020-08-28T08:00:00", 'starts_at = "28/08/2020 14h30"')
    edit(campaign_dir, "date = 2020-08-21", 'date = "21/8/2020"')
    text = " ".join(letter_text(campaign_dir).split())
    assert "Thời gian: 14 giờ 30, thứ Sáu, ngày 28 tháng 8 năm 2020." in text
    assert "Quận 5, ngày 21 tháng 8 năm 2020" in text


def test_a_campaign_without_agenda_renders_without_that_section(campaign_dir):
    path = campaign_dir / "campaign.toml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("agenda = ["))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("]"))
    path.write_text("".join(lines[:start] + lines[end + 1 :]), encoding="utf-8")
    text = letter_text(campaign_dir)
    assert "Nội dung chương trình" not in text
    assert "Rất mong" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("28/08/2020 8h00", datetime(2020, 8, 28, 8, 0)),
        ("28/8/2020 8h", datetime(2020, 8, 28, 8, 0)),
        ("2020-08-28 08:00", datetime(2020, 8, 28, 8, 0)),
        ("08:30 28/08/2020", datetime(2020, 8, 28, 8, 30)),
        ("8 giờ 30, thứ Sáu, ngày 28/8/2020", datetime(2020, 8, 28, 8, 30)),
        ("lúc 14g00 ngày 28.08.2020", datetime(2020, 8, 28, 14, 0)),
    ],
)
def test_date_and_time_as_an_office_types_them(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8 giờ 30, thứ Năm, ngày 28/8/2020", "28/08/2020 is thứ Sáu, not thứ Năm"),
        ("28/08/2020 25h00", "is not a time of day"),
        ("tomorrow 8h00", "has no date"),
        ("28/08/2020 8h00 or later", "is not a date and time we can read"),
    ],
)
def test_a_date_and_time_that_cannot_be_read_says_why(text, message):
    with pytest.raises(OfficeTimeError, match=message):
        parse_datetime(text)


def test_office_dates():
    assert parse_date("21/08/2020") == parse_date("2020-08-21") == parse_date(date(2020, 8, 21)) == date(2020, 8, 21)
    with pytest.raises(OfficeTimeError):
        parse_date("08/21/2020")  # month first is not a Vietnamese date


def test_a_key_added_for_the_templates_is_passed_to_them_and_an_unused_one_is_a_warning(campaign_dir):
    keep_first_rows(campaign_dir, 1)
    edit(campaign_dir, "[event]", '[event]\ndress_code = "Trang phục: áo dài"\nparking = "Bãi xe B"')
    letter = campaign_dir / "templates" / "email.txt"
    letter.write_text(letter.read_text(encoding="utf-8") + "\n{{ event.dress_code }}\n", encoding="utf-8")
    result = check(campaign_dir)
    assert result.exit_code == 0, result.output
    line = line_of(campaign_dir, "parking")
    assert f"Warning: campaign.toml:{line} [event.parking] is not used by any template" in result.output
    assert "dress_code" not in result.output
