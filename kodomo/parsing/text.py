"""Text normalisation: NFKC for codes and numbers, kana folding, kanji variant folding for comparison."""
from __future__ import annotations

import re
import unicodedata

# Old / variant kanji folded to the common form, for comparison only (NFKC leaves them alone).
KANJI_VARIANTS = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斎",
    "澤": "沢", "濵": "浜", "濱": "浜", "櫻": "桜", "廣": "広", "國": "国", "眞": "真",
    "實": "実", "藏": "蔵", "冨": "富", "峯": "峰", "嶋": "島", "嶌": "島", "槇": "槙",
}
_KANJI_TABLE = str.maketrans(KANJI_VARIANTS)
_HIRAGANA_TO_KATAKANA = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)}
_SPACES = re.compile(r"[\s\u3000]+")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def fold_kana(text: str) -> str:
    """One form for any reading: half-width and hiragana to full-width katakana, one half-width space."""
    widened = unicodedata.normalize("NFKC", text)  # half-width katakana -> full-width
    return _SPACES.sub(" ", widened.translate(_HIRAGANA_TO_KATAKANA)).strip()


def fold_kanji(text: str) -> str:
    """Comparison copy of a kanji name: variants folded, width normalised, spaces removed."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text.translate(_KANJI_TABLE)))


def split_name(text: str) -> tuple[str, str]:
    """Split "姓 名" on a full- or half-width space; with no space the whole is returned as surname."""
    parts = _SPACES.split(text.strip(), maxsplit=1)
    if len(parts) == 2:
        return parts[0], parts[1]
    return parts[0], ""
