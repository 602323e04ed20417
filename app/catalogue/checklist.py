"""The personal checklist: which materials this applicant needs, and how to provide each one.

A pure function of the item's materials and acceptance options, the guide answers, and the
licence types the applicant (or the company they act for) already holds in the licence library.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from app.catalogue.conditions import Answers, evaluate
from app.catalogue.schemas import Acceptance, ChecklistEntry, Mark, MaterialSpec
from app.catalogue.tables import MaterialKind


def build_checklist(
    materials: Iterable[MaterialSpec],
    acceptance: Acceptance,
    answers: Answers,
    held_licence_types: Set[str] = frozenset(),
) -> tuple[ChecklistEntry, ...]:
    """The materials whose condition holds for these answers, each marked.

    A licence the library holds is 免于提交 and nothing else applies to it. Otherwise the
    material is an original to bring or send, or an upload (a licence not held is uploaded as
    a scan); a pledge or a later delivery is offered only where both the item and the material
    allow it.
    """
    entries = []
    for material in materials:
        if not evaluate(material.condition, answers):
            continue
        if material.kind == MaterialKind.LICENCE and material.licence_type in held_licence_types:
            entries.append(ChecklistEntry(material, Mark.HELD))
            continue
        later = acceptance.deferral_max_days if material.deferrable else 0
        entries.append(
            ChecklistEntry(
                material,
                Mark.ORIGINAL if material.kind == MaterialKind.ORIGINAL else Mark.UPLOAD,
                pledge_allowed=acceptance.pledge and material.pledgeable,
                later_within_days=later or None,
                tolerable=acceptance.tolerated and material.tolerable,
            )
        )
    return tuple(entries)
