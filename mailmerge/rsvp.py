"""An RSVP read from the new text of a reply: attending, declined, a delegate sent in one's place, or unclear.

The phrases are data — `RULES`, `FIRST_WORDS`, `NEGATIONS`, `HEDGES`, `NOT_ATTENDING` — and the code that
applies them is small and generic. A sentence typed with tone marks is matched as written (ủy/uỷ and hòa/hoà
either way); a sentence typed without any is matched against the phrases with their marks taken off, so
"se tham du" reads as "sẽ tham dự" while "cứ" never reads as "cử". Anything in doubt — two answers that
disagree, a question, "nếu", "có lẽ" — is `unclear`: a person looks, nothing is guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from .quoting import beginning
from .vntext import ascii_fold, nfc

ATTENDING, DECLINED, DELEGATE, UNCLEAR = "attending", "declined", "delegate", "unclear"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class Rule:
    """A phrase that gives an answer.

    `phrase` is a lower-case regular expression in which a space stands for any run of spaces and " … " for
    a few words of the same sentence; "ủy" also finds "uỷ", and "tham dự" finds "tham du" typed without
    marks. `example` is a sentence it must read as `answer` (the tests check every rule on its example).
    `writer`: the person writing is the delegate ("tôi được cử dự thay")."""

    answer: str
    phrase: str
    example: str
    writer: bool = False

    @cached_property
    def patterns(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        return _compile(self.phrase)

    def finds(self, text: str) -> bool:
        """Whether the phrase is in `text`, read as `read_rsvp` reads it."""
        return any(self.patterns[sentence.marked].search(sentence.masked) for sentence in _sentences(nfc(text)))


_HONORIFIC = r"(đồng chí|đ/c|đc|ông|bà|anh|chị)"
_WITH_MARKS, _WITHOUT_MARKS = 0, 1

RULES: tuple[Rule, ...] = (
    # attending
    Rule(ATTENDING, "xin xác nhận (sẽ )?(tham dự|có mặt|dự)", "Tôi xin xác nhận tham dự hội nghị."),
    Rule(ATTENDING, "xác nhận (là |rằng )?(sẽ )?(tham dự|có mặt|đến dự)", "Đồng chí Chủ tịch xác nhận sẽ đến dự."),
    Rule(ATTENDING, "sẽ (đến |tới |đi )?(tham )?dự", "Tôi sẽ tham dự đúng giờ."),
    Rule(ATTENDING, "sẽ (có mặt|đến đúng giờ)", "Tôi sẽ có mặt lúc 7 giờ 45."),
    Rule(ATTENDING, "(tôi|em|chúng tôi) (xin )?(tham dự|đến dự|đi dự)", "Tôi tham dự."),
    Rule(ATTENDING, "đồng ý tham dự", "Lãnh đạo đơn vị đồng ý tham dự."),
    Rule(ATTENDING, "(tham dự|đến dự|dự) được", "Hôm đó tôi dự được."),
    Rule(ATTENDING, "có thể (tham dự|đến dự|dự|có mặt)", "Tôi có thể tham dự."),
    Rule(ATTENDING, "nhận lời( mời)?", "Tôi xin nhận lời mời của Ban Thường trực."),
    Rule(ATTENDING, "i (will|shall|'ll|am going to) (be )?attend(ing)?", "I will attend the conference."),
    Rule(ATTENDING, "i('ll| will) be there", "Thank you, I'll be there."),
    Rule(ATTENDING, "confirm (my|our) (attendance|participation|presence)", "I confirm my attendance."),
    Rule(ATTENDING, "(happy|pleased|glad|delighted) to (attend|accept|join|come)", "I am pleased to attend."),
    Rule(ATTENDING, "accept (the|your) (kind )?invitation", "I accept your kind invitation."),
    # declined
    Rule(DECLINED, "(không|ko) (thể )?(tham dự|dự)( được)?", "Tôi không thể tham dự được."),
    Rule(DECLINED, "(không|ko) (thể )?(đến|tới|đi) (dự|được)", "Tôi bận công tác nên không đến được."),
    Rule(DECLINED, "(không|ko) (thể )?có mặt", "Hôm đó tôi ko thể có mặt."),
    Rule(DECLINED, "chưa (thể )?(tham dự|dự|đến dự) được", "Tôi chưa thể tham dự được."),
    Rule(DECLINED, "xin (được |phép )?vắng( mặt)?", "Tôi xin phép vắng mặt."),
    Rule(DECLINED, "(sẽ|phải|đành|báo) vắng( mặt)?", "Hôm đó tôi phải vắng mặt."),
    Rule(DECLINED, "(tôi|em) (xin )?vắng( mặt)?", "Tôi vắng mặt vì đi công tác tỉnh."),
    Rule(DECLINED, "xin lỗi … không (đến|tới|dự|tham dự|đi)", "Xin lỗi các đồng chí, tôi không đi."),
    Rule(DECLINED, "xin (phép )?(kiếu|cáo lỗi)", "Tôi xin kiếu."),
    Rule(DECLINED, "(cannot|can't|can not|unable to) (attend|come|make it)", "I cannot attend."),
    Rule(DECLINED, "(not|won't) (be )?able to (attend|come|make it)", "I am not able to attend."),
    Rule(DECLINED, "(will not|won't|shall not) (be )?(attend|attending|there)", "I won't be attending."),
    Rule(DECLINED, "regret(s|fully)?", "I regret that I have a prior engagement."),
    Rule(DECLINED, "((must|have to) decline|decline (the|your) (kind )?invitation)", "I must decline."),
    # delegate: someone named attends in the invitee's place
    Rule(DELEGATE, r"(?<!bầu\s)cử(?! tri) … (tham |đi |đến |tới )?dự", "Xin cử đ/c Lê Bình, Phó Chủ tịch, dự thay."),
    Rule(DELEGATE, "ủy quyền cho", "Tôi ủy quyền cho đồng chí Phạm Thị Dung, Phó Bí thư Đảng ủy."),
    Rule(DELEGATE, "((tham |đi |đến )?dự|có mặt|đi) thay( cho)? (tôi|em|mình)", "Đồng chí Võ Tám sẽ dự thay tôi."),
    Rule(DELEGATE, "thay mặt (tôi|em|mình)", "Đồng chí Lê Văn Hải sẽ thay mặt tôi tham dự."),
    Rule(DELEGATE, f"(sẽ )?có {_HONORIFIC} … (tham )?dự thay", "Hôm đó sẽ có đồng chí Trần Thị Cúc dự thay."),
    Rule(DELEGATE, f"{_HONORIFIC} … (tham |đi )?dự thay(?! đổi| thế)", "Đồng chí Hồ Văn Kiên sẽ đi dự thay."),
    Rule(DELEGATE, "send … (in my place|on my behalf|instead of me)", "I will send Mr. Tran Duc in my place."),
    Rule(DELEGATE, "(attend|come|go) (in my place|on my behalf)", "Ms. Lam Thi Hoa will attend on my behalf."),
    Rule(DELEGATE, "(will be|be) represented by", "Our office will be represented by Mr. Ngo Van Long."),
    # delegate: the person writing attends in the invitee's place
    Rule(DELEGATE, "(tôi|em) (đã )?được … (cử|ủy quyền|phân công)", "Tôi được cử dự thay.", writer=True),
    Rule(DELEGATE, f"(tham )?dự thay (cho )?{_HONORIFIC}", "Tôi sẽ dự thay đồng chí Hoàng Văn An.", writer=True),
    Rule(DELEGATE, "(tôi|em) (sẽ )?(tham dự|dự|đi dự) thay(?! đổi| thế)", "Tôi sẽ dự thay.", writer=True),
    Rule(DELEGATE, "(attend|come) (on behalf of|in place of)(?! me)", "I attend on behalf of Mr. An.", writer=True),
    Rule(DELEGATE, "i (have been|was) (asked|delegated) to (attend|represent)", "I was asked to attend.", writer=True),
)

# The answer the invitation asks for ("Có" nếu tham dự, "Không" nếu vắng mặt): the whole first line of the
# answer or its first word, then punctuation ("Có.", "Có ạ", "Không, tôi bận.", "Dạ, có").
FIRST_WORDS: tuple[Rule, ...] = (
    Rule(ATTENDING, "có( mặt)?", "Có."),
    Rule(ATTENDING, "(sẽ )?tham dự", "Tham dự ạ."),
    Rule(DECLINED, "không", "Không ạ, tôi bận họp."),
    Rule(DECLINED, "vắng( mặt)?", "Vắng mặt."),
    Rule(ATTENDING, "yes", "Yes."),
    Rule(DECLINED, "no", "No, sorry."),
)
# Words that, among the three before a phrase in the same clause, turn it around ("không thể không tham dự").
NEGATIONS = r"không|ko|chưa|chẳng|chả|khó|not|never|cannot|unable|\w+n't"
# Words that make a sentence's answer doubtful; a question is doubtful too.
HEDGES = (
    r"nếu|có lẽ|có thể sẽ|có thể tôi|chưa chắc|không chắc|chưa biết|cố gắng|sẽ báo lại|dự kiến|dự định"
    r"|maybe|perhaps|might|if|not sure|try to|hope to|tentative(ly)?|let you know"
)
# "dự" in these words is not "attend": "dự kiến" (plan), "dự thảo" (draft) …
NOT_ATTENDING = r"dự (kiến|định|án|thảo|báo|toán|trù|phòng|tính|đoán|thi)"
# Lines that greet and are skipped before the first word is read.
GREETINGS = r"kính gửi|kính thưa|thưa|gửi|xin chào|chào|dear|hi|hello"
# Where the name of a delegate starts: after an honorific or a word that introduces a person.
NAME_AFTER = rf"{_HONORIFIC}|mr|mrs|ms|miss|comrade|cử|cho|send"
# Words of a position or an office, which never start a name ("Phó", "UBND", "Phường"), and those that never
# stand inside one (a name ends where its position starts: "Nguyễn Văn Bình Phó Chủ tịch").
NOT_NAMES = _words(
    "phó chủ bí trưởng ủy uỷ chánh giám cán chuyên ubnd mttq hđnd ban phòng đảng hội phường quận huyện xã "
    "thành tỉnh văn vice deputy chairman chairwoman director head secretary member manager officer"
)
TITLES = _words("phó chủ bí trưởng ủy uỷ chánh giám ubnd vice deputy chairman chairwoman director head")
# Words after which a position written without a name ends ("cử đồng chí Phó Chủ tịch dự thay").
VERBS = _words("dự tham đi đến tới sẽ thay được in to will attend")
ABBREVIATIONS = r"(mr|mrs|ms|dr|tp|p|q|đ/c|st|no|tel|đt|ths|ts|pgs|gs)\."


def _fold_keep_length(text: str) -> str:
    """Marks taken off letter by letter; a character with no plain form (“, –) stays, so positions agree."""
    return "".join(folded if len(folded := ascii_fold(ch)) == 1 else ch for ch in text)


def _fold_lower(text: str) -> str:
    return _fold_keep_length(text).lower()


def _is_unmarked(text: str) -> bool:
    """Typed without any Vietnamese mark (tones, ă â ê ô ơ ư đ)."""
    return not any(unicodedata.combining(ch) for ch in unicodedata.normalize("NFD", text)) and "đ" not in text.lower()


def _tone_places(text: str) -> str:
    """Tone marks of oa, oe, uy on the second vowel ("hòa" -> "hoà", "ủy" -> "uỷ"): both spellings are in use."""
    decomposed = unicodedata.normalize("NFD", text)
    moved = re.sub(r"([oO])([\u0300\u0301\u0303\u0309\u0323])([aAeE])", r"\1\3\2", decomposed)
    moved = re.sub(r"([uU])([\u0300\u0301\u0303\u0309\u0323])([yY])", r"\1\3\2", moved)
    result = unicodedata.normalize("NFC", moved)
    return result if len(result) == len(text) else text


def _compile(phrase: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The phrase as written (tone marks kept) and without marks, for the two kinds of sentence."""
    body = r"\s+(?:.{0,80}?\s)?".join(piece.replace(" ", r"\s+") for piece in phrase.split(" … "))
    pattern = rf"(?<!\w)(?:{body})(?!\w)"
    return re.compile(_tone_places(pattern), re.IGNORECASE), re.compile(_fold_keep_length(pattern), re.IGNORECASE)


NEGATION_PATTERNS = _compile(NEGATIONS)
HEDGE_PATTERNS = _compile(HEDGES)
NOT_ATTENDING_PATTERNS = _compile(NOT_ATTENDING)
GREETING_PATTERNS = _compile(rf"^\W*({GREETINGS})")
FIRST_WORD_PATTERNS = tuple(
    (rule, _compile(rf"^[\s\"“'«(*]*((dạ|vâng)[\s,]+)?({rule.phrase})(\s+ạ)?(\s*[,.!;:…)\"”'»*-]|\s*$)"))
    for rule in FIRST_WORDS
)
NAME_AFTER_PATTERNS = _compile(rf"({NAME_AFTER})\.?")
HONORIFIC_PATTERNS = _compile(rf"{_HONORIFIC}|mr|mrs|ms|miss|comrade")
INTRODUCTION_PATTERNS = _compile(r"(tôi|em) là|i am|i'm|my name is")
FOLDED_NOT_NAMES = frozenset(map(_fold_lower, NOT_NAMES))
FOLDED_TITLES = frozenset(map(_fold_lower, TITLES))
FOLDED_VERBS = frozenset(map(_fold_lower, VERBS))
CLAUSE_END = re.compile(r"[,;:()]|(?<!\w)(?:nhưng|nhung|song|tuy nhiên|tuy nhien|but|however)(?!\w)", re.I)
POSITION = re.compile(
    r"\s*(?:,|–|-|\()\s*(?P<position>[^,;()–\n]{2,80}?)\s*"
    r"(?=\)|,|;|–|\s-\s|\.\s|\.$|$|\s(?:sẽ|se|đi|di|đến|den|tham|dự|du|thay|in|to|will|attend|được|duoc)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rsvp:
    rsvp: str  # attending | declined | delegate | unclear
    delegate_name: str | None = None
    delegate_position: str | None = None
    excerpt: str | None = None  # the sentence the answer was read from
    rule: str | None = None  # the phrase of the rule that decided
    delegate_is_writer: bool = False  # the writer attends in someone's place: their name is the sender's


@dataclass(frozen=True)
class _Sentence:
    text: str  # as written, NFC
    form: str  # the same length: tone marks placed one way, or taken off when the sentence has none
    marked: int  # _WITH_MARKS or _WITHOUT_MARKS: which of a rule's two patterns applies

    @cached_property
    def masked(self) -> str:
        pattern = NOT_ATTENDING_PATTERNS[self.marked]
        return pattern.sub(lambda match: "#" * len(match.group()), self.form)

    @cached_property
    def hedged(self) -> bool:
        return self.text.rstrip().endswith("?") or bool(HEDGE_PATTERNS[self.marked].search(self.form))


@dataclass(frozen=True)
class _Signal:
    answer: str
    rule: Rule
    sentence: _Sentence
    start: int


def read_rsvp(text: str) -> Rsvp:
    """The answer in `text` (the new text of a reply: no quoted history, no signature)."""
    text = nfc(text).strip()
    if not text:
        return Rsvp(UNCLEAR)
    sentences = _sentences(text)
    signals = _first_word(text) + [signal for sentence in sentences for signal in _signals(sentence)]
    return _decide(signals, sentences, text)


def mentions_answer(text: str) -> bool:
    """Whether any phrase of `RULES` is in `text` (a signature never says "sẽ tham dự")."""
    return any(_signals(sentence) for sentence in _sentences(nfc(text)))


def _signals(sentence: _Sentence) -> list[_Signal]:
    found = []
    for rule in RULES:
        for match in rule.patterns[sentence.marked].finditer(sentence.masked):
            if _negated(sentence, match.start()):
                continue
            found.append(_Signal(rule.answer, rule, sentence, match.start()))
            break
    if any(signal.rule.writer for signal in found):  # "tôi được … cử dự thay" also has "cử … dự" in it
        found = [signal for signal in found if signal.answer != DELEGATE or signal.rule.writer]
    return found


def _negated(sentence: _Sentence, start: int) -> bool:
    clause = CLAUSE_END.split(sentence.form[:start])[-1]
    window = " ".join(clause.split()[-3:])
    return bool(NEGATION_PATTERNS[sentence.marked].search(window))


def _first_word(text: str) -> list[_Signal]:
    """ "Có" or "Không" as the whole first line of the answer or its first word (after a greeting)."""
    lines = [_sentence(line.strip()) for line in text.split("\n") if line.strip()]
    while lines and GREETING_PATTERNS[lines[0].marked].search(lines[0].form):
        lines.pop(0)
    for rule, patterns in FIRST_WORD_PATTERNS if lines else ():
        if patterns[lines[0].marked].search(lines[0].form):
            return [_Signal(rule.answer, rule, lines[0], 0)]
    return []


def _decide(signals: list[_Signal], sentences: list[_Sentence], text: str) -> Rsvp:
    if doubtful := next((signal for signal in signals if signal.sentence.hedged), None):
        return Rsvp(UNCLEAR, excerpt=doubtful.sentence.text, rule=doubtful.rule.phrase)
    if delegates := [signal for signal in signals if signal.answer == DELEGATE]:
        return _delegate(delegates[0], signals, sentences, text)
    answers = {signal.answer for signal in signals}
    if len(answers) != 1:
        return Rsvp(UNCLEAR, excerpt=beginning(text))
    if third := next((signal for signal in signals if _someone_else(signal)), None):
        return Rsvp(UNCLEAR, excerpt=third.sentence.text, rule=third.rule.phrase)
    return Rsvp(signals[0].answer, excerpt=signals[0].sentence.text, rule=signals[0].rule.phrase)


def _someone_else(signal: _Signal) -> bool:
    """ "Đồng chí Lê Văn Bình sẽ tham dự": the invitee's secretary, or a delegate? A person looks. (By a title
    alone, "Đồng chí Chủ tịch sẽ tham dự", it is the invitee, written of by their office.)"""
    return signal.answer == ATTENDING and any(at < signal.start and name for at, (name, _) in _people(signal.sentence))


def _delegate(chosen: _Signal, signals: list[_Signal], sentences: list[_Sentence], text: str) -> Rsvp:
    """A delegate, unless another sentence says the invitee comes (or, from the delegate, does not)."""
    others = [signal for signal in signals if signal.answer != DELEGATE and signal.sentence is not chosen.sentence]
    if chosen.rule.writer:
        name, position = next(filter(None, map(_writer, sentences)), (None, None))
        conflict = any(signal.answer == DECLINED for signal in others)
    else:
        name, position = _named(chosen.sentence, chosen.start)
        conflict = any(signal.answer == ATTENDING and not _about(signal.sentence, name) for signal in others)
    if conflict:
        return Rsvp(UNCLEAR, excerpt=beginning(text))
    return Rsvp(
        DELEGATE, name, position, chosen.sentence.text, chosen.rule.phrase, delegate_is_writer=chosen.rule.writer
    )


def _about(sentence: _Sentence, name: str | None) -> bool:
    """Whether an attending sentence is about someone else ("Đồng chí Bình sẽ có mặt lúc 7 giờ")."""
    return bool(name and name.split()[-1] in sentence.text.split()) or bool(_people(sentence))


def _named(sentence: _Sentence, start: int) -> tuple[str | None, str | None]:
    """The delegate a sentence names: the first person after the phrase starts, else the last one before it."""
    people = _people(sentence)
    after = [person for at, person in people if at >= start]
    before = [person for at, person in people if at < start]
    return after[0] if after else (before[-1] if before else (None, None))


def _writer(sentence: _Sentence) -> tuple[str | None, str | None] | None:
    """ "Tôi là Trần Văn Cường, Phó Chủ tịch UBND Phường 3": the writer's name and position."""
    for match in INTRODUCTION_PATTERNS[sentence.marked].finditer(sentence.form):
        title, name, end = _name_at(sentence, match.end(), minimum=2)
        if name:
            return name, title or _position(sentence, end)
    return None


def _people(sentence: _Sentence) -> list[tuple[int, tuple[str | None, str | None]]]:
    """(where, (name, position)) of each person a sentence names after an honorific ("đồng chí", "Mr.") or a
    verb that introduces one ("cử", "ủy quyền cho", "send"); a position alone when no name follows it."""
    found: list[tuple[int, tuple[str | None, str | None]]] = []
    for match in NAME_AFTER_PATTERNS[sentence.marked].finditer(sentence.form):
        honorific = HONORIFIC_PATTERNS[sentence.marked].fullmatch(match.group(1))
        title, name, end = _name_at(sentence, match.end(), minimum=1 if honorific else 2)
        if name or title:
            found.append((match.start(), (name, title or (_position(sentence, end) if name else None))))
    return found


def _name_at(sentence: _Sentence, index: int, minimum: int) -> tuple[str | None, str | None, int]:
    """(position written before the name, name, where the name ends) at `index`: capitalised words, not
    those of a position or an office ("Phó Chủ tịch UBND Phường 3 Nguyễn Văn Bình")."""
    words = [
        (index + word.start(), word.group().rstrip(",.;:)"), word.group())
        for word in re.finditer(r"\S+", sentence.text[index : index + 200])
    ][:12]
    title: list[str] = []
    for at, (_, bare, raw) in enumerate(words):
        run = _name_run(words[at:])
        if len(run) >= (2 if title else minimum):
            name = " ".join(word[1] for word in run)
            return " ".join(title) or None, name, run[-1][0] + len(run[-1][1])
        if (not title and not _office_word(bare)) or _fold_lower(bare) in FOLDED_VERBS:
            break
        title.append(bare)
        if bare != raw:
            break
    return (" ".join(title) if title else None), None, index


def _name_run(words: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    run: list[tuple[int, str, str]] = []
    for word in words[:5]:
        bare = word[1]
        if not _name_word(bare) or (not run and _office_word(bare)) or (run and _title_word(bare)):
            break
        run.append(word)
        if bare != word[2]:  # a comma or a full stop ends the name
            break
    return run


def _name_word(word: str) -> bool:
    """Capitalised, without a digit, not an acronym ("UBND")."""
    return word[:1].isupper() and not any(ch.isdigit() for ch in word) and (len(word) == 1 or not word.isupper())


def _office_word(word: str) -> bool:
    return word.lower() in NOT_NAMES or (_is_unmarked(word) and word.lower() in FOLDED_NOT_NAMES)


def _title_word(word: str) -> bool:
    return word.lower() in TITLES or (_is_unmarked(word) and word.lower() in FOLDED_TITLES)


def _position(sentence: _Sentence, end: int) -> str | None:
    """The position written after a name: ", Phó Chủ tịch UBND Phường 3," / " (Phó Chủ tịch)" / " - …"."""
    match = POSITION.match(sentence.form, end)
    if not match:
        return None
    position = sentence.text[match.start("position") : match.end("position")].strip()
    words = position.split()
    if not words or len(words) > 10 or not (words[0][:1].isupper() or _office_word(words[0])):
        return None
    return position


def _sentences(text: str) -> list[_Sentence]:
    """Sentences, with lines a mail client wrapped joined again."""
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        for line in _unwrap(lines):
            found.extend(_sentence(piece) for piece in _split(line))
    return found


def _unwrap(lines: list[str]) -> list[str]:
    joined: list[str] = []
    for line in lines:
        if joined and len(joined[-1]) >= 60 and not joined[-1].endswith((".", "!", "?", ":", ";")):
            joined[-1] = f"{joined[-1]} {line}"
        else:
            joined.append(line)
    return joined


def _split(line: str) -> list[str]:
    pieces: list[str] = []
    for piece in re.split(r"(?<=[.!?…])\s+", line):
        previous = pieces[-1] if pieces else ""
        if previous and (not piece[:1].isupper() or re.search(rf"(?<!\w){ABBREVIATIONS}$", previous, re.I)):
            pieces[-1] = f"{previous} {piece}"
        else:
            pieces.append(piece)
    return pieces


def _sentence(text: str) -> _Sentence:
    if _is_unmarked(text):
        return _Sentence(text, _fold_keep_length(text), _WITHOUT_MARKS)
    return _Sentence(text, _tone_places(text), _WITH_MARKS)
