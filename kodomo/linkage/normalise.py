"""Comparison forms of a child's name: surname / given split, folded kanji, folded kana.

Agencies write "姓 名", "姓　名" or "姓名", and the kana with or without a space. The split matters
because a surname can change (marriage, divorce) while the given name stays: the model must be able to
compare given names alone. When a name has no space, the split is learned from the data itself: the
surnames and given names (with their readings) that other records write with a space form a lexicon;
a cut where a known part's reading also fits the kana wins, then a cut at any known part, and failing
both a length heuristic splits the kanji (the kana then stays whole: no given-name reading).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

from kodomo.parsing.text import fold_kana, fold_kanji, split_name


class NameParts(NamedTuple):
    """Folded comparison forms; a part is None when it cannot be told apart."""

    surname: str | None
    given: str | None
    surname_kana: str | None
    given_kana: str | None


def kanji_parts(name: str) -> tuple[str, str] | None:
    """Folded (surname, given) when the name is written with a space, else None."""
    surname, given = split_name(name)
    return (fold_kanji(surname), fold_kanji(given)) if given else None


def kana_parts(kana: str) -> tuple[str, str] | None:
    parts = fold_kana(kana).split(" ")
    if len(parts) < 2:
        return None
    return parts[0], "".join(parts[1:])


# DuckDB's string distances count UTF-8 bytes, and every katakana is three bytes sharing the first two:
# unrelated readings would look alike. Fuzzy comparisons run on one ASCII byte per katakana instead.
_KATAKANA_BLOCK = 0x30A0
_ONE_BYTE_KANA = {cp: 0x20 + cp - _KATAKANA_BLOCK for cp in range(_KATAKANA_BLOCK, _KATAKANA_BLOCK + 0x60)}


def one_byte_kana(kana: str | None) -> str | None:
    """A folded reading transcribed one byte per katakana, for byte-counting distance functions."""
    return None if kana is None else kana.translate(_ONE_BYTE_KANA)


def heuristic_surname_length(name: str) -> int:
    """Most Japanese surnames have two kanji; a two-character name is one plus one."""
    return 2 if len(name) >= 3 else 1


class NameLexicon:
    """Surnames and given names with their readings, learned from records that write them with a space."""

    def __init__(self) -> None:
        self.surname_readings: dict[str, set[str]] = defaultdict(set)
        self.given_readings: dict[str, set[str]] = defaultdict(set)
        self.kana_surnames: set[str] = set()

    @classmethod
    def from_names(cls, names: Iterable[tuple[str, str]]) -> NameLexicon:
        lexicon = cls()
        for name, kana in names:
            kanji, reading = kanji_parts(name), kana_parts(kana)
            if kanji:
                lexicon.surname_readings[kanji[0]].update(reading[:1] if reading else ())
                lexicon.given_readings[kanji[1]].update(reading[1:] if reading else ())
            if reading:
                lexicon.kana_surnames.add(reading[0])
        return lexicon

    def split(self, name: str, kana: str) -> NameParts:
        kanji, reading = kanji_parts(name), kana_parts(kana)
        full_kana = fold_kana(kana).replace(" ", "")
        if kanji is None:
            kanji = self._kanji_split(fold_kanji(name), full_kana, reading)
        if reading is None and kanji is not None:
            reading = self._kana_split(kanji, full_kana)
        return NameParts(*(kanji or (None, None)), *(reading or (None, None)))

    def _kanji_split(self, full: str, full_kana: str, reading: tuple[str, str] | None) -> tuple[str, str] | None:
        """Cut a kanji name written without space: known parts whose reading fits first, then any known
        surname or given name, then the length heuristic."""
        if len(full) < 2:
            return None
        cuts = range(len(full) - 1, 0, -1)  # surname length, longest first
        by_surname = [n for n in cuts if full[:n] in self.surname_readings]
        by_given = [n for n in cuts if full[n:] in self.given_readings]

        def fits(n: int) -> bool:
            surnames, givens = self.surname_readings.get(full[:n], ()), self.given_readings.get(full[n:], ())
            if reading:
                return reading[0] in surnames or reading[1] in givens
            return (any(_proper_prefix(r, full_kana) for r in surnames)
                    or any(_proper_prefix(r[::-1], full_kana[::-1]) for r in givens))

        read_alike = [n for n in (*by_surname, *by_given) if fits(n)]
        n = (read_alike or by_surname or by_given or [heuristic_surname_length(full)])[0]
        return full[:n], full[n:]

    def _kana_split(self, kanji: tuple[str, str], full_kana: str) -> tuple[str, str] | None:
        """Cut a reading written without space where a known reading of either kanji part ends."""
        surname, given = kanji
        for r in sorted(self.surname_readings.get(surname, ()), key=len, reverse=True):
            if _proper_prefix(r, full_kana):
                return r, full_kana[len(r):]
        for r in sorted(self.given_readings.get(given, ()), key=len, reverse=True):
            if _proper_prefix(r[::-1], full_kana[::-1]):
                return full_kana[:-len(r)], r
        for n in range(len(full_kana) - 1, 0, -1):
            if full_kana[:n] in self.kana_surnames:
                return full_kana[:n], full_kana[n:]
        return None


def _proper_prefix(part: str, whole: str) -> bool:
    return len(part) < len(whole) and whole.startswith(part)
