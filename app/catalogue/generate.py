"""A large synthetic catalogue for tests and benchmarks (``tongban catalogue generate N``).

Fengxian's kiosks list 1,093 items; search and the catalogue pages must stay fast at that size
and beyond. The items are deterministic (the same N gives the same rows), plausibly named
(区 + 事项 + 办理类型, e.g. 浦东新区道路运输经营许可变更), spread over the real departments,
and marked ``synthetic`` so that running it again replaces them and never touches the real
catalogue of the data file.
"""

from __future__ import annotations

import random

from app.catalogue.tables import Department, Material, MaterialKind, ServiceItem
from app.core.transactions import write_transaction

DISTRICTS = (
    ("黄浦区", "Huangpu"),
    ("徐汇区", "Xuhui"),
    ("长宁区", "Changning"),
    ("静安区", "Jing'an"),
    ("普陀区", "Putuo"),
    ("虹口区", "Hongkou"),
    ("杨浦区", "Yangpu"),
    ("闵行区", "Minhang"),
    ("宝山区", "Baoshan"),
    ("嘉定区", "Jiading"),
    ("浦东新区", "Pudong"),
    ("金山区", "Jinshan"),
    ("松江区", "Songjiang"),
    ("青浦区", "Qingpu"),
    ("奉贤区", "Fengxian"),
    ("崇明区", "Chongming"),
)
SUBJECTS = (
    ("道路运输经营", "road transport business"),
    ("药品零售", "retail pharmacy"),
    ("医疗器械经营", "medical device trading"),
    ("餐饮服务", "catering service"),
    ("户外广告设施设置", "outdoor advertising"),
    ("建筑垃圾运输", "construction waste transport"),
    ("危险化学品经营", "hazardous chemicals trading"),
    ("民办培训机构办学", "private training school"),
    ("养老机构", "care home"),
    ("托育机构", "childcare centre"),
    ("娱乐场所经营", "entertainment venue"),
    ("旅馆业特种行业", "hotel trade"),
    ("燃气经营", "gas supply"),
    ("取水", "water abstraction"),
    ("城市绿地占用", "use of urban green space"),
    ("临时占用道路", "temporary use of a road"),
    ("二手车交易市场", "used-car market"),
    ("人力资源服务", "human resources services"),
    ("劳务派遣经营", "labour dispatch"),
    ("出版物零售", "publication retail"),
)
ACTIONS = (
    ("许可", "licence"),
    ("许可变更", "licence change"),
    ("许可延续", "licence renewal"),
    ("许可注销", "licence cancellation"),
    ("许可证补办", "licence replacement"),
    ("备案", "filing"),
    ("备案变更", "filing change"),
)
MATERIALS = (
    ("申请书", "Application form", MaterialKind.UPLOAD, ""),
    ("营业执照", "Business licence", MaterialKind.LICENCE, "business_licence"),
    (
        "法定代表人居民身份证",
        "Identity card of the legal representative",
        MaterialKind.LICENCE,
        "id_card",
    ),
    ("经营场所使用证明", "Proof of the right to use the premises", MaterialKind.UPLOAD, ""),
    ("管理制度文本", "Management rules", MaterialKind.UPLOAD, ""),
    ("原许可证正本", "The original licence", MaterialKind.ORIGINAL, ""),
)
CHUNK = 200


def synthetic_items(count: int, department_ids: list[int], seed: int = 1093) -> list[ServiceItem]:
    """``count`` unsaved items, the same for the same arguments, with distinct codes and names."""
    names = [
        (district, subject, action)
        for subject in SUBJECTS
        for action in ACTIONS
        for district in DISTRICTS
    ]
    if count > len(names):
        raise ValueError(f"at most {len(names)} synthetic items")
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    rng.shuffle(names)
    items = []
    for index, (
        (district_zh, district_en),
        (subject_zh, subject_en),
        (action_zh, action_en),
    ) in enumerate(names[:count]):
        legal = rng.choice((5, 10, 15, 20, 30))
        items.append(
            ServiceItem(
                code=f"synthetic-{index + 1:05d}",
                department=department_ids[index % len(department_ids)],
                name_zh=f"{district_zh}{subject_zh}{action_zh}",
                name_en=f"{district_en}: {subject_en} {action_en}",
                description_zh=f"{district_zh}办理{subject_zh}{action_zh}的合成事项，仅用于测试和性能基准。",
                description_en=f"Synthetic item for tests and benchmarks: {subject_en} {action_en}.",
                legal_days=legal,
                promised_days=rng.randint(1, legal),
                approval_levels=rng.randint(1, 3),
                counter_visit=rng.random() < 0.2,
                delivery=rng.sample(["online", "counter", "courier", "locker"], rng.randint(1, 3)),
                min_assurance=rng.randint(1, 3),
                position=10_000 + index,
                synthetic=True,
            )
        )
    return items


async def generate(count: int, seed: int = 1093) -> int:
    """Replace the synthetic items with ``count`` new ones (2-4 materials each); return count."""
    department_ids = [
        row["id"] for row in await Department.select(Department.id).order_by(Department.id)
    ]
    if not department_ids:
        raise ValueError("no departments: run `tongban seed` first")
    items = synthetic_items(count, department_ids, seed)
    rng = random.Random(seed + 1)  # noqa: S311 (test data, not secrets)
    async with write_transaction("catalogue"):
        await ServiceItem.delete().where(ServiceItem.synthetic == True)  # noqa: E712
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            saved = await ServiceItem.insert(*chunk).returning(ServiceItem.id)
            materials = []
            for row in saved:
                for position, (zh, en, kind, licence) in enumerate(
                    rng.sample(MATERIALS, rng.randint(2, 4))
                ):
                    materials.append(
                        Material(
                            item=row["id"],
                            code=f"m{position + 1}",
                            position=position,
                            name_zh=zh,
                            name_en=en,
                            kind=kind.value,
                            licence_type=licence,
                        )
                    )
            await Material.insert(*materials)
    return len(items)
