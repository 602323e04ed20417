"""How fast catalogue search answers: the real catalogue plus a synthetic one, in memory.

Builds a ``SearchIndex`` (app/catalogue/search.py) over the 41 items of the data file and
``--synthetic`` generated ones (app/catalogue/generate.py, 1,093 by default: Fengxian's kiosk
count), the way ``search_index`` builds it from the database, then times every query of each
kind ``--repeat`` times and prints p50 and p95 per kind in microseconds, with the number of
results, and the time to build the index. No database, Redis or server is involved: this is
the cost a request pays once it has the cached index.

    python -m bench.search [--synthetic 1093] [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

from app.catalogue.datafile import load
from app.catalogue.generate import synthetic_items
from app.catalogue.schemas import ServiceItemSummary
from app.catalogue.search import SearchIndex, normalise

QUERIES: dict[str, tuple[str, ...]] = {
    "chinese": ("食品", "许可", "浦东新区", "道路运输", "居住证", "药品零售许可变更", "备案"),
    "pinyin": ("shipin", "xuke", "pudong", "daoluyunshu", "shi pin jing ying", "yaopin"),
    "initials": ("spjy", "xk", "dlys", "ypls", "SPJYXK", "jzz"),
    "mixed": ("食品jy", "浦东新区dlys", "道路ys", "药品lingshou", "居住z"),
    "english": ("food business", "licence", "retail pharmacy", "licence renewal", "permit"),
    "no match": ("zzzz", "火星登陆许可", "qqxx", "quantum teleport", "x" * 300),
}


def catalogue(synthetic: int) -> list[ServiceItemSummary]:
    """The data file's items, then the synthetic ones, in catalogue order (department, then
    position: synthetic items sort after the real ones of their department)."""
    data = load()
    departments = [department.code for department in data.departments]
    rows = [
        (departments.index(item.department), position, item.code, item.name_zh, item.name_en)
        for position, item in enumerate(data.items)
    ]
    for item in synthetic_items(synthetic, list(range(len(departments)))):
        rows.append((int(item.department), item.position, item.code, item.name_zh, item.name_en))
    rows.sort(key=lambda row: (row[0], row[1]))
    return [
        ServiceItemSummary(code=code, name_zh=zh, name_en=en, department=departments[department])
        for department, _position, code, zh, en in rows
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=1093, help="generated items to add")
    parser.add_argument("--repeat", type=int, default=200, help="runs of each query")
    args = parser.parse_args()

    items = catalogue(args.synthetic)
    started = time.perf_counter()
    SearchIndex(items[:1])  # the first build also loads pypinyin's dictionaries
    first = time.perf_counter() - started
    builds = []
    for _ in range(5):
        started = time.perf_counter()
        index = SearchIndex(items)
        builds.append(time.perf_counter() - started)
    print(f"search: {len(items)} items; pypinyin load {first * 1000:.0f} ms")
    print(f"  index build: median {statistics.median(builds) * 1000:.0f} ms of 5")
    # "new": a query this index has not answered yet (find); "again": answered from the
    # index's memory of earlier answers (search), as repeated kiosk and as-you-type queries are.
    print(
        f"  {'kind':<10} {'queries':>7} {'results':>9} {'new p50 µs':>11} {'new p95 µs':>11} "
        f"{'again p50 µs':>13}"
    )
    for kind, queries in QUERIES.items():
        timings: list[float] = []
        again: list[float] = []
        results = []
        for query in queries:
            normalised = normalise(query)
            results.append(len(index.search(query)))  # warm, and remembered
            for _ in range(args.repeat):
                started = time.perf_counter_ns()
                index.find(normalised)
                timings.append((time.perf_counter_ns() - started) / 1000)
                started = time.perf_counter_ns()
                index.search(query)
                again.append((time.perf_counter_ns() - started) / 1000)
        found = f"{min(results)}-{max(results)}"
        print(
            f"  {kind:<10} {len(queries):>7} {found:>9} {percentile(timings, 0.5):>11.0f} "
            f"{percentile(timings, 0.95):>11.0f} {percentile(again, 0.5):>13.1f}"
        )


if __name__ == "__main__":
    main()
