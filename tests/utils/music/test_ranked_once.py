"""A member asking again with the same data and the same server model gets the list ranked once, not again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.utils.services_support import (  # noqa: F401 - the `services` fixture
    GUILD,
    Services,
    services_fixture,
    sync_members,
)
from utils.music import recommend as personal


async def test_asking_again_reuses_the_ranking_until_data_or_model_change(services: Services,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    alice, *_ = await sync_members(services)
    ranked: list[tuple[Any, ...]] = []
    real = personal.rank

    def counting(data: Any, community: Any, count: int, mode: str) -> Any:
        ranked.append((count, mode))
        return real(data, community, count, mode)

    monkeypatch.setattr(personal, "rank", counting)
    first = [r.item.key for r in (await services.music.recommend(alice, GUILD, count=10)).items]
    again = [r.item.key for r in (await services.music.recommend(alice, GUILD, count=10)).items]
    assert again == first and ranked == [(10, "balanced")]
    # another count or mode is another list
    await services.music.recommend(alice, GUILD, count=5)
    await services.music.recommend(alice, GUILD, count=10, mode="discover")
    assert ranked[1:] == [(5, "balanced"), (10, "discover")]
    # a refitted server model ranks afresh
    services.music.community.models.invalidate()
    await services.music.recommend(alice, GUILD, count=10)
    assert len(ranked) == 4
    # so does new data: a song turned down is gone from the next list
    await services.music.feedback(alice, first[0], "track", -1)
    after = [r.item.key for r in (await services.music.recommend(alice, GUILD, count=10)).items]
    assert first[0] not in after and len(ranked) == 5
