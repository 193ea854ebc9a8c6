"""Group features: how close two members' tastes are, and fair lists for a whole server.

Blend rationale (how `blend` aggregates members' ranked preferences):
Averaging ranks (plain Borda) lets a majority with shared taste crowd a minority out of every slot,
and least-misery lets one picky member veto everything and leaves only bland middle ground. So
`blend` takes turns: in each round every member is served once, the member served least so far goes
first, and on their turn they get the item from their own list that the whole group likes most
(Borda points, each list scaled to 0..1 so a long list does not outvote a short one). An item that
several members like serves all of them in that round, so shared favourites come first and nobody
waits more than one round for something of theirs. With `size` >= number of members, every member
with a non-empty list gets at least one item.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

from utils.engine.algorithms import Recommender
from utils.engine.data import Context, Item, User, join_names

Member = Hashable


def taste_match(
    a: Mapping[Item, float], b: Mapping[Item, float], *, shrink: float = 5.0, top: int = 10
) -> tuple[int, list[Item]]:
    """(score 0..100, shared items both play most, best first) for two item -> weight profiles.

    Cosine on log1p weights, shrunk towards 0 when only a few items are shared out of many
    (confidence n / (n + shrink * (1 - jaccard)), so identical profiles keep full confidence),
    then 100 * sqrt(.) because raw cosines of real listening are small and read as harsh.
    Identical profiles give 100, disjoint ones 0, and match(a, b) == match(b, a).
    """
    la = {i: math.log1p(w) for i, w in a.items() if w > 0}
    lb = {i: math.log1p(w) for i, w in b.items() if w > 0}
    shared = la.keys() & lb.keys()
    if not shared:
        return 0, []
    dot = sum(la[i] * lb[i] for i in shared)
    cosine = dot / math.sqrt(sum(v * v for v in la.values()) * sum(v * v for v in lb.values()))
    jaccard = len(shared) / len(la.keys() | lb.keys())
    confidence = len(shared) / (len(shared) + shrink * (1.0 - jaccard))
    score = round(100 * math.sqrt(min(1.0, cosine * confidence)))
    max_a, max_b = max(la.values()), max(lb.values())
    ranked = sorted(shared, key=lambda i: (-min(la[i] / max_a, lb[i] / max_b), str(i)))
    return score, ranked[:top]


def blend(preferences: Mapping[Member, Sequence[Item]], size: int) -> list[tuple[Item, tuple[Member, ...]]]:
    """Fair group list of `size` items from each member's ranked list; see the module docstring."""
    lists = {m: list(dict.fromkeys(items)) for m, items in preferences.items()}
    points: dict[Item, float] = {}
    fans: dict[Item, list[tuple[float, Member]]] = {}
    for member, items in lists.items():
        n = len(items)
        for rank, item in enumerate(items):
            p = (n - rank) / n
            points[item] = points.get(item, 0.0) + p
            fans.setdefault(item, []).append((p, member))
    order = list(lists)
    position = {m: i for i, m in enumerate(order)}
    served_total = dict.fromkeys(order, 0)
    chosen: set[Item] = set()
    result: list[tuple[Item, tuple[Member, ...]]] = []
    while len(result) < size:
        served_round: set[Member] = set()
        progressed = False
        for member in sorted(order, key=lambda m: (served_total[m], position[m])):
            if len(result) >= size:
                break
            if member in served_round:
                continue
            options = [i for i in lists[member] if i not in chosen]
            if not options:
                continue
            pos = {item: r for r, item in enumerate(lists[member])}
            item = max(options, key=lambda i: (points[i], -pos[i]))
            contributors = tuple(m for _, m in sorted(fans[item], key=lambda pm: -pm[0]))
            chosen.add(item)
            result.append((item, contributors))
            for m in contributors:
                served_round.add(m)
                served_total[m] += 1
            progressed = True
        if not progressed:
            break
    return result


@dataclass(frozen=True, slots=True)
class GroupPick:
    """One item for the group: who it is for and why, in plain words."""

    item: Item
    score: float
    contributors: tuple[User, ...]
    reason: str


def group_recommend(
    recommender: Recommender,
    members: Sequence[User],
    k: int = 10,
    *,
    histories: Mapping[User, Mapping[Item, float]] | None = None,
    context: Context | None = None,
    hidden: Collection[User] = (),
    per_member: int | None = None,
) -> list[GroupPick]:
    """What a server should hear together: each member's own top picks, blended fairly.

    `histories` folds in members who are not in the fitted model. Hidden members still get their
    share, but their names never appear in a reason.
    """
    ctx = context or Context()
    histories = histories or {}
    n = per_member or max(3 * k, 10)
    prefs: dict[User, list[Item]] = {}
    batch = getattr(recommender, "recommend_many", None)
    if batch is not None and not histories and not ctx.liked and not ctx.disliked:
        # Large servers: one pair of sparse products instead of a query per member.
        prefs.update(batch(list(members), n))
    for member in members:
        if member not in prefs:
            recs = recommender.recommend(member, n, history=histories.get(member), context=ctx)
            prefs[member] = [r.item for r in recs]
    picks = blend(prefs, k)
    hidden_set = set(hidden)
    out = []
    for item, contributors in picks:
        names = [ctx.name(m) for m in contributors if m not in hidden_set]
        named = [x for x in names if x]
        if named:
            reason = f"Picked for {join_names(named[:3], len(contributors))}"
        else:
            reason = f"Picked for {len(contributors)} member{'s' if len(contributors) > 1 else ''} of {ctx.community_label}"
        score = float(len(contributors)) / max(1, len(members))
        out.append(GroupPick(item, score, contributors, reason))
    return out
