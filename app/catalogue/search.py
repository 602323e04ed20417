"""Catalogue search over Chinese names, full pinyin, pinyin initials, English names and codes.

People look for 食品经营许可 by typing 食品, ``shipin``, ``spjy``, ``食品jy`` or "food
business". The index is built once per catalogue version (``search_index``, cached through the
``catalogue`` cache, so ``catalogue_changed`` rebuilds it on every replica) and holds, for each
item, its searchable forms precomputed. Each form of every item is joined into one string
(``\\x00`` between items), so a query costs a few ``str.find`` scans in C over ~50 KB rather
than a Python loop over every item; each hit is mapped back to its item with a binary search.

Ranking, best first; ties keep catalogue order (department, then position in it):

0. the query is the whole Chinese or English name (or the code);
1. a name starts with it;
2. the Chinese name contains it;
3. / 4. the full pinyin starts with / contains it (spaces ignored: ``shi pin``);
5. / 6. the pinyin initials start with / contain it (``spjy``);
7. the English name or the code contains it;
8. every word of the query starts a word of the English name ("business food").

Chinese characters in a mixed query (``食品jy``) are turned into pinyin and initials, and the
item must also contain them as written. Readings are pypinyin's default (phrase-aware) ones;
heteronyms are not indexed, to keep the index small.
"""

from __future__ import annotations

import asyncio
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

from redis.asyncio import Redis

from app.catalogue.schemas import ServiceItemSummary
from app.catalogue.services import CACHE
from app.catalogue.tables import ServiceItem

MAX_QUERY = 100  # characters kept of a query; longer ones are cut, never refused
MEMO = 2048  # answers kept per index
SEP = "\x00"  # between items in a joined form; normalised text never contains it

EXACT, PREFIX, ZH, PINYIN_PREFIX, PINYIN, INITIALS_PREFIX, INITIALS, ENGLISH, WORDS, UNRANKED = (
    range(10)
)


def _clean(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), control, format and unassigned
    characters removed, lower case, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    kept = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(kept.lower().split())


def normalise(query: str) -> str:
    """A query as it is searched for: cleaned, at most ``MAX_QUERY`` characters (a longer one
    is cut, never refused; only its start is even looked at)."""
    return _clean(query[: MAX_QUERY * 4])[:MAX_QUERY].rstrip()


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _latin(text: str) -> str:
    """Only ASCII letters and digits: what pinyin forms are compared on."""
    return "".join(ch for ch in text if ch.isascii() and ch.isalnum())


def _pinyin_forms(text: str) -> tuple[str, str]:
    """(full pinyin, initials) of text, lower case, letters and digits only. Letters and digits
    already in the text are kept whole in both forms (ICP备案 → icpbeian, icpba)."""
    # pypinyin loads its dictionaries (~0.6 s) on import: only when an index is first built.
    from pypinyin import Style, lazy_pinyin

    full = _latin("".join(lazy_pinyin(text)).lower())
    initials = _latin("".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower())
    return full, initials


def _words(text: str) -> str:
    """Words of an English name, each preceded by a space: ``" food business licence"``."""
    return " " + " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


class _Form:
    """One searchable form of every item, joined: find a query in all of them at once."""

    __slots__ = ("ends", "starts", "text")

    def __init__(self, values: Iterable[str]) -> None:
        starts: list[int] = []
        parts: list[str] = []
        position = 0
        for value in values:
            position += 1  # the separator before each value
            starts.append(position)
            parts.append(value)
            position += len(value)
        self.text = SEP + SEP.join(parts) + SEP
        self.starts = starts
        self.ends = [start + len(value) for start, value in zip(starts, parts, strict=True)]

    def hits(self, needle: str) -> list[tuple[int, int]]:
        """(item index, offset of the first match within the item's value) for every item
        whose value holds needle, in catalogue order."""
        starts, ends, find = self.starts, self.ends, self.text.find
        found = find(needle)
        hits = []
        while found != -1:
            index = bisect_right(starts, found) - 1
            hits.append((index, found - starts[index]))
            found = find(needle, ends[index] + 1)  # the next item's value starts there
        return hits


class SearchIndex:
    """Every item's searchable forms, built once from the summaries in catalogue order.

    Instances are immutable and hash by identity, so a page cache may key on the index: a new
    catalogue version gives a new index.
    """

    __slots__ = (
        "_by_code",
        "_code",
        "_en",
        "_found",
        "_initials",
        "_items",
        "_pinyin",
        "_words",
        "_zh",
    )

    def __init__(self, items: Sequence[ServiceItemSummary]) -> None:
        self._items = tuple(items)
        self._by_code = MappingProxyType({item.code: item for item in self._items})
        names_zh = [_clean(item.name_zh) for item in self._items]
        names_en = [_clean(item.name_en) for item in self._items]
        pinyin = [_pinyin_forms(name) for name in names_zh]
        self._zh = _Form(names_zh)
        self._en = _Form(names_en)
        self._code = _Form(item.code.lower() for item in self._items)
        self._pinyin = _Form(full for full, _initials in pinyin)
        self._initials = _Form(initials for _full, initials in pinyin)
        self._words = _Form(_words(name) for name in names_en)
        # Answers already given, by normalised query: kiosks and as-you-type ask the same few
        # queries again and again. Bounded; dropped with the index at the next catalogue change.
        self._found: dict[str, tuple[ServiceItemSummary, ...]] = {}

    @property
    def items(self) -> tuple[ServiceItemSummary, ...]:
        """Every item, in catalogue order."""
        return self._items

    @property
    def by_code(self) -> Mapping[str, ServiceItemSummary]:
        return self._by_code

    def search(self, query: str) -> tuple[ServiceItemSummary, ...]:
        """Every item the query finds, best first (see the module docstring); () for a query
        that is empty once normalised."""
        query = normalise(query)
        if not query:
            return ()
        found = self._found.get(query)
        if found is None:
            found = self.find(query)
            if len(self._found) >= MEMO:
                del self._found[next(iter(self._found))]  # the oldest answer
            self._found[query] = found
        return found

    def find(self, query: str) -> tuple[ServiceItemSummary, ...]:
        """What ``search`` answers for a normalised, non-empty query, worked out afresh."""
        rank: dict[int, int] = {}
        _collect(rank, self._zh, query, EXACT, PREFIX, ZH)
        _collect(rank, self._en, query, EXACT, PREFIX, ENGLISH)
        _collect(rank, self._code, query, EXACT, ENGLISH, ENGLISH)
        self._search_pinyin(query, rank)
        words = query.split()
        if len(words) > 1:  # one word is found by the English substring already
            self._search_words(words, rank)
        tiers: list[list[int]] = [[] for _ in range(UNRANKED)]
        for index, tier in rank.items():
            tiers[tier].append(index)
        items = self._items
        return tuple(items[index] for indexes in tiers for index in sorted(indexes))

    def _search_pinyin(self, query: str, rank: dict[int, int]) -> None:
        latin = _latin(query)
        if not latin:
            return  # only Chinese (or other) characters: the Chinese name answered already
        runs = "".join(ch if _is_han(ch) else " " for ch in query).split()
        if runs:
            full, initials = _pinyin_forms(query)
        elif len(latin) == len(query.replace(" ", "")):
            full = initials = latin
        else:
            return  # punctuation or another script beside the letters: no pinyin holds it
        zh = self._zh

        def has_runs(index: int) -> bool:
            name = zh.text[zh.starts[index] : zh.ends[index]]
            return all(run in name for run in runs)

        # The characters the person typed must be in the name as written, not only their
        # sound: 食品jy finds 食品经营许可 but not 审批教育.
        keep = has_runs if runs else None

        _collect(rank, self._pinyin, full, PINYIN_PREFIX, PINYIN_PREFIX, PINYIN, keep)
        _collect(rank, self._initials, initials, INITIALS_PREFIX, INITIALS_PREFIX, INITIALS, keep)

    def _search_words(self, words: list[str], rank: dict[int, int]) -> None:
        matched: set[int] | None = None
        for word in words:
            found = {index for index, _offset in self._words.hits(" " + word)}
            matched = found if matched is None else matched & found
            if not matched:
                return
        for index in matched or ():
            if index not in rank:
                rank[index] = WORDS


def _collect(
    rank: dict[int, int],
    form: _Form,
    needle: str,
    exact: int,
    prefix: int,
    inside: int,
    keep: Callable[[int], bool] | None = None,
) -> None:
    """Note in rank each item whose form holds needle, at the tier the match earns, unless
    the item already has a better one. (The hot loop of a broad query: kept flat.)"""
    starts, ends, find = form.starts, form.ends, form.text.find
    size = len(needle)
    found = find(needle)
    while found != -1:
        index = bisect_right(starts, found) - 1
        start, end = starts[index], ends[index]
        if keep is None or keep(index):
            tier = inside if found != start else exact if end - start == size else prefix
            if tier < rank.get(index, UNRANKED):
                rank[index] = tier
        found = find(needle, end + 1)  # the first match in each item is the best one


async def load_summaries() -> tuple[ServiceItemSummary, ...]:
    """Every item as a summary, in catalogue order: department, then position (one query)."""
    rows = await (
        ServiceItem.select(
            ServiceItem.code,
            ServiceItem.name_zh,
            ServiceItem.name_en,
            ServiceItem.department.code.as_alias("department_code"),
            ServiceItem.promised_days,
            ServiceItem.delivery,
            ServiceItem.life_events,
        )
        .order_by(ServiceItem.department, ServiceItem.position, ServiceItem.id)
        .output(load_json=True)
    )
    return tuple(
        ServiceItemSummary(
            code=row["code"],
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            department=row["department_code"],
            promised_days=row["promised_days"],
            online="online" in row["delivery"],
            life_events=tuple(row["life_events"]),
        )
        for row in rows
    )


async def _build() -> SearchIndex:
    summaries = await load_summaries()
    # 0.2-0.3 s of pypinyin for 1,100 items: off the event loop, so other requests go on.
    return await asyncio.to_thread(SearchIndex, summaries)


async def search_index(redis: Redis) -> SearchIndex:
    """The index of the current catalogue, rebuilt after ``catalogue_changed``."""
    return await CACHE.get(redis, "search-index", _build)
