"""People listed by name the Vietnamese way: given name first, then middle names, then family name; the
Vietnamese alphabet (a ă â … d đ … o ô ơ … u ư …) and tones after the base letters."""

from __future__ import annotations

import random
import unicodedata

from mailmerge.vntext import name_key

# Written out by hand, in the order a Vietnamese office lists them.
IN_ORDER = [
    "Nguyễn Văn An",
    "Lê Văn Anh",
    "Trần Thị Ánh",
    "Phạm Thị Ân",
    "Đỗ Thị Bích",
    "Hoàng Văn Bình",
    "Võ Văn Dũng",
    "Lê Thị Đào",
    "Châu Văn Ha",
    "Trần Thị Hà",
    "Nguyễn Thu Hà",
    "Lý Văn Hả",
    "Đinh Văn Hã",
    "Mai Văn Há",
    "Phan Văn Hạ",
    "Bùi Văn Hải",
    "Lê Văn Hải",
    "Trương Văn Long",
    "Lê Văn Lộc",
    "Huỳnh Văn Lợi",
    "Madonna",  # one word: the given name
    "Ngô Văn Tú",
    "Ngô Văn Tuấn",
    "Hồ Văn Từ",
]


def test_a_shuffled_list_comes_back_in_the_order_written_by_hand():
    shuffled = IN_ORDER[:]
    random.Random(8).shuffle(shuffled)
    assert sorted(shuffled, key=name_key) == IN_ORDER


def test_names_typed_decomposed_sort_as_the_composed_ones():
    decomposed = [unicodedata.normalize("NFD", name) for name in reversed(IN_ORDER)]
    assert [unicodedata.normalize("NFC", name) for name in sorted(decomposed, key=name_key)] == IN_ORDER
