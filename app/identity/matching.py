"""Face matching behind one interface (docs/identity.md).

A provider compares the selfie with the identity document (a photo of the card, or the ID
record of the licence library) and answers match, no match, or "deferred to the officer". The
demo provider always defers: the officer compares the two images side by side. A real
comparison service (a 人像比对 API of the public security bureau, say) is added as another
provider and chosen with ``TONGBAN_FACE_MATCH_PROVIDER``; the flow does not change: its answer
is stored with the verification and shown to the officer, who still decides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol


class Verdict(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    DEFERRED = "deferred"  # no automated answer: the officer compares


@dataclass(frozen=True, slots=True)
class MatchResult:
    provider: str
    verdict: Verdict
    score: int | None = None  # 0-100 where the provider gives one (integers: canonical JSON)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict.value}


class FaceMatcher(Protocol):
    name: str
    needs_images: bool  # False: the clean images are not read from storage for it

    async def compare(self, selfie: bytes | None, document: bytes | None) -> MatchResult: ...


class DeferToOfficer:
    """The demo provider: no automated comparison."""

    name = "demo"
    needs_images = False

    async def compare(self, selfie: bytes | None, document: bytes | None) -> MatchResult:
        return MatchResult(provider=self.name, verdict=Verdict.DEFERRED)


PROVIDERS: dict[str, FaceMatcher] = {"demo": DeferToOfficer()}


def provider(name: str = "demo") -> FaceMatcher:
    return PROVIDERS[name]
