"""Japanese names with readings, and the ways agencies write them differently.

Old kanji variants are derived from ``kodomo.parsing.text.KANJI_VARIANTS`` (the comparison table), so
every variant the generator writes is one the platform is expected to fold.
"""
from __future__ import annotations

import unicodedata

import numpy as np

from kodomo.parsing.text import KANJI_VARIANTS

# (common form, reading, relative frequency)
SURNAMES = (
    ("佐藤", "サトウ", 19), ("鈴木", "スズキ", 18), ("高橋", "タカハシ", 14), ("田中", "タナカ", 13),
    ("伊藤", "イトウ", 11), ("渡辺", "ワタナベ", 11), ("山本", "ヤマモト", 11), ("中村", "ナカムラ", 10),
    ("小林", "コバヤシ", 10), ("加藤", "カトウ", 9), ("吉田", "ヨシダ", 8), ("山田", "ヤマダ", 8),
    ("佐々木", "ササキ", 7), ("山口", "ヤマグチ", 6.5), ("松本", "マツモト", 6), ("井上", "イノウエ", 6),
    ("木村", "キムラ", 5.5), ("林", "ハヤシ", 5.5), ("斎藤", "サイトウ", 5.5), ("清水", "シミズ", 5),
    ("山崎", "ヤマザキ", 4.5), ("森", "モリ", 4.5), ("池田", "イケダ", 4), ("橋本", "ハシモト", 4),
    ("阿部", "アベ", 4), ("石川", "イシカワ", 3.8), ("山下", "ヤマシタ", 3.6), ("中島", "ナカジマ", 3.5),
    ("石井", "イシイ", 3.4), ("小川", "オガワ", 3.4), ("前田", "マエダ", 3.3), ("岡田", "オカダ", 3.3),
    ("長谷川", "ハセガワ", 3.3), ("藤田", "フジタ", 3.2), ("後藤", "ゴトウ", 3.2), ("近藤", "コンドウ", 3.1),
    ("村上", "ムラカミ", 3), ("遠藤", "エンドウ", 2.9), ("青木", "アオキ", 2.9), ("坂本", "サカモト", 2.8),
    ("福田", "フクダ", 2.7), ("太田", "オオタ", 2.7), ("西村", "ニシムラ", 2.6), ("藤井", "フジイ", 2.6),
    ("金子", "カネコ", 2.5), ("岡本", "オカモト", 2.5), ("藤原", "フジワラ", 2.5), ("中野", "ナカノ", 2.4),
    ("三浦", "ミウラ", 2.4), ("原田", "ハラダ", 2.3), ("中川", "ナカガワ", 2.3), ("松田", "マツダ", 2.3),
    ("竹内", "タケウチ", 2.2), ("小野", "オノ", 2.2), ("田村", "タムラ", 2.2), ("中山", "ナカヤマ", 2.1),
    ("和田", "ワダ", 2.1), ("石田", "イシダ", 2.1), ("森田", "モリタ", 2), ("上田", "ウエダ", 2),
    ("原", "ハラ", 2), ("内田", "ウチダ", 2), ("柴田", "シバタ", 1.9), ("酒井", "サカイ", 1.9),
    ("宮崎", "ミヤザキ", 1.9), ("横山", "ヨコヤマ", 1.9), ("高木", "タカギ", 1.8), ("安藤", "アンドウ", 1.8),
    ("宮本", "ミヤモト", 1.8), ("大野", "オオノ", 1.7), ("小島", "コジマ", 1.7), ("谷口", "タニグチ", 1.7),
    ("工藤", "クドウ", 1.6), ("高田", "タカダ", 1.6), ("増田", "マスダ", 1.6), ("丸山", "マルヤマ", 1.6),
    ("今井", "イマイ", 1.6), ("河野", "コウノ", 1.5), ("藤本", "フジモト", 1.5), ("村田", "ムラタ", 1.5),
    ("武田", "タケダ", 1.5), ("上野", "ウエノ", 1.5), ("杉山", "スギヤマ", 1.5), ("新井", "アライ", 1.4),
    ("野口", "ノグチ", 1.4), ("松井", "マツイ", 1.4), ("千葉", "チバ", 1.4), ("木下", "キノシタ", 1.4),
    ("野村", "ノムラ", 1.4), ("岩崎", "イワサキ", 1.3), ("桜井", "サクライ", 1.3), ("菊地", "キクチ", 1.3),
    ("佐野", "サノ", 1.3), ("沢田", "サワダ", 1.2), ("浜田", "ハマダ", 1.2), ("大西", "オオニシ", 1.2),
    ("杉本", "スギモト", 1.2), ("吉川", "ヨシカワ", 1.2), ("山内", "ヤマウチ", 1.2), ("西田", "ニシダ", 1.2),
    ("菅原", "スガワラ", 1.2), ("小松", "コマツ", 1.1), ("島田", "シマダ", 1.1), ("北村", "キタムラ", 1.1),
    ("平野", "ヒラノ", 1.1), ("大塚", "オオツカ", 1.1), ("中西", "ナカニシ", 1), ("広瀬", "ヒロセ", 1),
    ("松尾", "マツオ", 1), ("野田", "ノダ", 1), ("渡部", "ワタナベ", 1), ("水野", "ミズノ", 1),
)
BOY_NAMES = (
    ("蓮", "レン"), ("陽翔", "ハルト"), ("湊", "ミナト"), ("蒼", "アオイ"), ("樹", "イツキ"), ("大和", "ヤマト"),
    ("悠真", "ユウマ"), ("朝陽", "アサヒ"), ("悠人", "ユウト"), ("颯真", "ソウマ"), ("陽太", "ヨウタ"),
    ("翔太", "ショウタ"), ("大翔", "ヒロト"), ("結翔", "ユイト"), ("律", "リツ"), ("新", "アラタ"), ("颯", "ハヤテ"),
    ("陸", "リク"), ("蒼空", "ソラ"), ("悠斗", "ユウト"), ("翼", "ツバサ"), ("拓海", "タクミ"), ("健太", "ケンタ"),
    ("大輝", "ダイキ"), ("優斗", "ユウト"), ("翔", "ショウ"), ("海斗", "カイト"), ("陽向", "ヒナタ"),
    ("一輝", "カズキ"), ("涼太", "リョウタ"), ("颯太", "ソウタ"), ("奏太", "カナタ"), ("晴", "ハル"),
    ("航", "ワタル"), ("優", "ユウ"), ("慶", "ケイ"), ("瑛太", "エイタ"), ("智也", "トモヤ"), ("和真", "カズマ"),
    ("隼人", "ハヤト"), ("蒼真", "ソウマ"), ("春樹", "ハルキ"), ("直樹", "ナオキ"), ("康介", "コウスケ"),
    ("亮", "リョウ"), ("拓也", "タクヤ"), ("遼", "ハルカ"), ("壮真", "ソウマ"), ("凌", "リョウ"), ("駿", "シュン"),
)
GIRL_NAMES = (
    ("陽葵", "ヒマリ"), ("凛", "リン"), ("詩", "ウタ"), ("結菜", "ユイナ"), ("葵", "アオイ"), ("紬", "ツムギ"),
    ("澪", "ミオ"), ("結愛", "ユア"), ("芽依", "メイ"), ("さくら", "サクラ"), ("美咲", "ミサキ"), ("陽菜", "ヒナ"),
    ("結衣", "ユイ"), ("莉子", "リコ"), ("杏", "アン"), ("花", "ハナ"), ("心春", "コハル"), ("美月", "ミツキ"),
    ("優奈", "ユウナ"), ("七海", "ナナミ"), ("彩花", "アヤカ"), ("愛菜", "マナ"), ("美羽", "ミウ"), ("真央", "マオ"),
    ("琴音", "コトネ"), ("千尋", "チヒロ"), ("菜々子", "ナナコ"), ("遥", "ハルカ"), ("美桜", "ミオ"),
    ("結月", "ユヅキ"), ("葉月", "ハヅキ"), ("楓", "カエデ"), ("茜", "アカネ"), ("日菜子", "ヒナコ"), ("舞", "マイ"),
    ("彩", "アヤ"), ("心愛", "ココア"), ("一花", "イチカ"), ("柚希", "ユズキ"), ("友香", "トモカ"),
    ("ひかり", "ヒカリ"), ("美優", "ミユ"), ("咲良", "サクラ"), ("奈緒", "ナオ"), ("萌", "モエ"), ("乃愛", "ノア"),
    ("みゆ", "ミユ"), ("杏奈", "アンナ"), ("朱莉", "アカリ"), ("花音", "カノン"),
)

# Common kanji -> its old / variant forms, inverted from the platform's folding table.
_OLD_FORMS: dict[str, tuple[str, ...]] = {}
for _old, _common in KANJI_VARIANTS.items():
    _OLD_FORMS[_common] = (*_OLD_FORMS.get(_common, ()), _old)
_FOLD = str.maketrans(KANJI_VARIANTS)


def old_forms(surname: str) -> list[str]:
    """Every spelling of ``surname`` with one of its kanji in an old form (高橋 -> [髙橋])."""
    forms = []
    for i, ch in enumerate(surname):
        forms += [surname[:i] + old + surname[i + 1:] for old in _OLD_FORMS.get(ch, ())]
    return forms


def common_form(name: str) -> str:
    return name.translate(_FOLD)


def encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


# --- kana -----------------------------------------------------------------------------------------
_KATA_TO_HIRA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}
_HALF_WIDTH: dict[str, str] = {}
for _cp in range(0xFF61, 0xFFA0):
    _HALF_WIDTH.setdefault(unicodedata.normalize("NFKC", chr(_cp)), chr(_cp))
_VOICING_MARKS = {"\u3099": "\uff9e", "\u309a": "\uff9f"}


def to_hiragana(katakana: str) -> str:
    return katakana.translate(_KATA_TO_HIRA)


def to_halfwidth(katakana: str) -> str:
    out = []
    for ch in katakana:
        if ch in _HALF_WIDTH:
            out.append(_HALF_WIDTH[ch])
            continue
        base, *marks = unicodedata.normalize("NFD", ch)
        if base in _HALF_WIDTH and marks and marks[0] in _VOICING_MARKS:
            out.append(_HALF_WIDTH[base] + _VOICING_MARKS[marks[0]])
        else:
            out.append(ch)
    return "".join(out)


def kana_in_form(katakana: str, form: str) -> str:
    if form == "hiragana":
        return to_hiragana(katakana)
    if form == "halfwidth":
        return to_halfwidth(katakana)
    return katakana


# One-character slips of a kana typist: small/large kana, a dropped voicing mark, look-alikes.
_KANA_SLIPS = {
    "ツ": "ッ", "ッ": "ツ", "ヨ": "ョ", "ョ": "ヨ", "ユ": "ュ", "ュ": "ユ", "ヤ": "ャ", "ャ": "ヤ",
    "シ": "ツ", "ソ": "ン", "ン": "ソ", "ジ": "シ", "ズ": "ス", "ダ": "タ", "ド": "ト", "ガ": "カ",
    "ゴ": "コ", "ザ": "サ", "ブ": "フ", "バ": "ハ", "オ": "ウ", "ウ": "オ", "イ": "エ", "キ": "ギ",
    "ト": "ド", "タ": "ダ", "カ": "ガ", "ケ": "ゲ", "ハ": "パ", "ミ": "ニ", "ル": "レ", "リ": "ソ",
}


def kana_slip(kana: str, rng: np.random.Generator) -> str:
    """``kana`` with exactly one character mistyped (it always differs from the input)."""
    positions = [i for i, ch in enumerate(kana) if ch in _KANA_SLIPS]
    if not positions:
        return kana + "ー"
    i = positions[int(rng.integers(len(positions)))]
    return kana[:i] + _KANA_SLIPS[kana[i]] + kana[i + 1:]
