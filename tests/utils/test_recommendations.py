"""Behaviour a member would notice: what is never suggested, who is never named, fair group lists."""

from __future__ import annotations

import pytest

from utils.recommendations import (
    EASE,
    IALS,
    CatalogueExpansion,
    Context,
    Hybrid,
    Interactions,
    ItemCF,
    ListenerRidge,
    Popularity,
    UserKNN,
    blend,
    group_recommend,
    taste_match,
)

ALL = [Popularity, ItemCF, UserKNN, ListenerRidge, Hybrid, EASE, IALS]

# Two taste clusters (rock r*, jazz j*), with a few members bridging them.
ROWS = (
    [(u, f"r{i}", 10 - i) for n, u in enumerate(("ada", "ben", "cy", "dee")) for i in range(6) if (n + i) % 5 != 0]
    + [(u, f"j{i}", 8 - i) for u in ("eve", "fay", "gus") for i in range(6)]
    + [("ada", "r7", 3), ("ben", "r7", 4), ("cy", "r8", 2), ("dee", "r8", 5), ("eve", "r1", 1)]
    + [("me", "r0", 20), ("me", "r1", 12), ("me", "j0", 1)]
)
NAMES = {"ada": "Ada", "ben": "Ben", "cy": "Cy", "dee": "Dee", "eve": "Eve", "fay": "Fay", "gus": "Gus"}


@pytest.fixture(scope="module")
def data() -> Interactions:
    return Interactions.from_triples(ROWS)


@pytest.mark.parametrize("algo", ALL)
def test_known_excluded_and_disliked_items_are_never_recommended(data, algo):
    model = algo().fit(data)
    known = {"r0", "r1", "j0"}
    ctx = Context(disliked={"r2"})
    recs = model.recommend("me", 20, exclude={"r3"}, context=ctx)
    assert recs, algo.__name__
    items = {r.item for r in recs}
    assert not items & (known | {"r2", "r3"})
    assert all(r.reason and r.source for r in recs)
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True) or algo is Hybrid


def test_rock_listener_gets_rock_first_with_a_reason_naming_what_they_play(data):
    model = ItemCF().fit(data)
    recs = model.recommend("me", 3, context=Context(item_labels={"r0": "Radiohead", "r1": "Muse"}))
    assert recs[0].item.startswith("r")
    assert recs[0].reason.startswith("Because you play ")
    assert "Radiohead" in recs[0].reason or "Muse" in recs[0].reason


def test_dislike_pushes_down_similar_items_and_like_lifts_them(data):
    rows = [(u, i, 5) for u in ("u1", "u2", "u5") for i in ("x", "r2", "r3")]
    rows += [(u, i, 5) for u in ("u3", "u4") for i in ("x", "b1", "b2")] + [("me", "x", 5)]
    model = Hybrid().fit(Interactions.from_triples(rows))
    plain = [r.item for r in model.recommend("me", 4)]
    assert plain.index("r3") < plain.index("b1")
    after = [r.item for r in model.recommend("me", 4, context=Context(disliked={"r2"}))]
    assert "r2" not in after
    assert after.index("r3") > after.index("b1") and after.index("r3") > after.index("b2")
    liked = Hybrid().fit(data).recommend("fay", 10, context=Context(liked={"r0"}))
    assert "r0" not in {r.item for r in liked}
    assert any(r.item.startswith("r") for r in liked[:3])


def test_per_artist_cap_is_respected():
    rows = [(u, f"a{i}", 5) for u in ("x", "y", "z") for i in range(8)] + [("me", "a0", 9), ("me", "a1", 3)]
    data = Interactions.from_triples(rows)
    artist = {f"a{i}": "Same Band" if i < 6 else f"Band {i}" for i in range(8)}
    recs = Hybrid().fit(data).recommend("me", 5, context=Context(item_artist=artist, max_per_artist=2))
    per_artist = [artist[r.item] for r in recs]
    assert per_artist.count("Same Band") == 2
    assert {"a6", "a7"} <= {r.item for r in recs}


def test_hidden_user_never_counts_nor_appears_in_anyone_elses_reasons():
    rows = [("ada", "a", 5), ("ada", "b", 5), ("hid", "a", 9), ("hid", "b", 9), ("hid", "secret", 50),
            ("ben", "c", 3), ("ben", "a", 1)]
    names = {"ada": "Ada", "hid": "Hidden Person", "ben": "Ben"}
    data = Interactions.from_triples(rows, private_users={"hid"})
    assert "hid" not in data.user_index and "secret" not in data.item_index
    ctx = Context(user_names=names)
    for algo in ALL:
        model = algo().fit(data)
        for user in ("ada", "ben"):
            recs = model.recommend(user, 10, context=ctx)
            assert "secret" not in {r.item for r in recs}
            assert not any("Hidden" in r.reason for r in recs)
    own = Hybrid().fit(data).recommend("hid", 5, context=ctx)
    assert {r.item for r in own} == {"c"}
    assert not any(r.item in {"a", "b", "secret"} for r in own)


def test_taste_neighbour_reason_names_close_members(data):
    recs = UserKNN().fit(data).recommend("me", 5, context=Context(user_names=NAMES))
    assert any("whose taste is close to yours" in r.reason for r in recs)
    assert any(name in recs[0].reason for name in ("Ada", "Ben", "Cy", "Dee", "Eve"))


def test_fold_in_user_not_in_the_model_gets_the_same_kind_of_list(data):
    model = Hybrid().fit(data)
    recs = model.recommend("stranger", 5, history={"j0": 10, "j1": 4})
    assert recs and all(r.item not in {"j0", "j1"} for r in recs)
    assert recs[0].item.startswith("j")
    assert model.recommend("nobody", 3)  # cold start falls back to what the community plays


def test_catalogue_expansion_works_for_a_community_of_one():
    data = Interactions.from_triples([("solo", "t1", 10), ("solo", "t2", 4)])
    ctx = Context(
        item_artist={"t1": "radiohead", "t2": "bjork"},
        catalogue={"radiohead": ["t1", "t3", "t4"], "bjork": ["t2", "t5"]},
        item_genres={"t1": {"art rock"}, "t9": {"art rock", "electronic"}, "t8": {"polka"}},
        item_labels={"radiohead": "Radiohead", "bjork": "Björk"},
    )
    for algo in (CatalogueExpansion, Hybrid):
        recs = algo().fit(data).recommend("solo", 10, context=ctx)
        items = [r.item for r in recs]
        assert items[0] == "t3" and set(items) == {"t3", "t4", "t5", "t9"}
        assert "More from Radiohead" in recs[0].reason
        assert any("art rock" in r.reason for r in recs if r.item == "t9")


def test_taste_match_identical_disjoint_symmetric():
    a = {"x": 10, "y": 3, "z": 1}
    b = {"x": 2, "y": 7, "w": 4}
    assert taste_match(a, dict(a))[0] == 100
    assert taste_match(a, {"p": 1, "q": 2}) == (0, [])
    assert taste_match(a, b)[0] == taste_match(b, a)[0]
    assert 0 < taste_match(a, b)[0] < 100
    assert taste_match(a, b)[1] == ["y", "x"]
    # One shared item out of many should read as a weak match, not a strong one.
    big_a = {f"a{i}": 5 for i in range(40)} | {"s": 5}
    big_b = {f"b{i}": 5 for i in range(40)} | {"s": 5}
    assert taste_match(big_a, big_b)[0] < 15


def test_blend_gives_every_member_items_and_shared_favourites_first():
    prefs = {
        "ada": ["x", "a1", "a2", "a3"],
        "ben": ["x", "b1", "b2", "b3"],
        "cy": ["c1", "c2", "c3"],
    }
    picks = blend(prefs, 6)
    assert len(picks) == 6
    assert picks[0] == ("x", ("ada", "ben"))
    for member in prefs:
        assert sum(member in who for _, who in picks) >= 2
    assert len({item for item, _ in picks}) == 6
    assert blend({"solo": ["a"]}, 5) == [("a", ("solo",))]


def test_group_recommend_serves_every_member_without_naming_hidden_ones(data):
    model = Hybrid().fit(data)
    picks = group_recommend(model, ["ada", "eve", "me"], 6, context=Context(user_names=NAMES), hidden={"me"})
    assert len(picks) == 6
    for member in ("ada", "eve", "me"):
        assert any(member in p.contributors for p in picks)
    assert all("me" not in p.reason for p in picks)


def test_batched_server_lists_match_one_by_one_lists(data):
    model = ItemCF().fit(data)
    many = model.recommend_many(data.users, 5)
    for user in data.users:
        assert many[user] == [r.item for r in model.recommend(user, 5)]
    picks = group_recommend(model, data.users, 8)
    assert all(not set(p.contributors) - set(data.users) for p in picks)
    assert {m for p in picks for m in p.contributors} >= {"ada", "eve"}


@pytest.mark.parametrize("algo", [ItemCF, ListenerRidge])
def test_reasons_of_one_list_name_different_songs_the_member_plays(algo):
    # everyone who plays "me"'s four favourites plays all four, so each of them explains every pick equally well
    rows = [("me", f"fav{i}", 10) for i in range(4)]
    for u in range(6):
        rows += [(f"u{u}", f"fav{i}", 5) for i in range(4)] + [(f"u{u}", f"new{u}{j}", 3 - j) for j in range(2)]
    labels = {f"fav{i}": f"Favourite {i}" for i in range(4)}
    recs = algo().fit(Interactions.from_triples(rows)).recommend("me", 8, context=Context(item_labels=labels))
    named = [label for r in recs for label in labels.values() if label in r.reason]
    assert len(recs) == 8 and all(any(label in r.reason for label in labels.values()) for r in recs)
    assert len(set(named)) == 4  # the list cites all four, not the same one or two eight times


def test_reasons_worded_for_the_picks_shown_only_are_the_reasons_of_the_whole_list():
    # the same four favourites explain every pick: which one a reason names depends on the picks before it
    rows = [("me", f"fav{i}", 10) for i in range(4)]
    for u in range(6):
        rows += [(f"u{u}", f"fav{i}", 5) for i in range(4)] + [(f"u{u}", f"new{u}{j}", 3 - j) for j in range(2)]
    labels = {f"fav{i}": f"Favourite {i}" for i in range(4)}
    model = Hybrid().fit(Interactions.from_triples(rows))
    whole = model.recommend("me", 8, context=Context(item_labels=labels))
    ranking = model.ranking("me", 8, context=Context(item_labels=labels))
    assert ranking.items == [r.item for r in whole]
    assert ranking.explained(range(3)) == whole[:3]
    assert ranking.explained([6, 1]) == [whole[6], whole[1]]  # further down the list: the same reasons again


def test_the_artist_cap_and_variety_pick_as_the_greedy_rule_says():
    """Each pick is the open item with the best score less `variety` x best score x (picks of its artist + its
    source's share of the picks), the first on a tie; an artist closes at the cap."""
    import random

    import numpy as np

    from utils.engine.hybrid import _Keys

    rng = random.Random(3)
    model = Hybrid()
    model.fit(Interactions.from_triples([("x", f"i{j}", 1) for j in range(90)]))
    for trial in range(200):
        size = rng.randint(1, 90)
        fused = np.array([rng.choice([1.0, 0.9, 0.5]) if rng.random() < 0.3 else rng.random() for _ in range(size)])
        sources = np.array([rng.randrange(len(model.components)) for _ in range(size)])
        artists = {f"i{j}": rng.choice(["A", "B", "C", None]) for j in range(size)}
        keys = _Keys(model.data)
        keys.order = np.arange(size)
        ctx = Context(item_artist={k: a for k, a in artists.items() if a}, max_per_artist=rng.randint(1, 3))
        k = rng.randint(1, 25)
        top = fused[np.argsort(-fused, kind="stable")[: max(4 * k, 50)]]
        order = list(np.argsort(-fused, kind="stable")[: max(4 * k, 50)])
        unit = model.variety * max(float(top.max()), 1e-12)
        expected: list[int] = []
        for _ in range(min(k, len(order))):
            best, best_value = None, -np.inf
            for p in order:
                artist = artists[f"i{p}"]
                same = sum(1 for q in expected if artist and artists[f"i{q}"] == artist)
                if p in expected or same >= max(1, ctx.max_per_artist):
                    continue
                share = sum(1 for q in expected if sources[q] == sources[p]) / max(1, len(expected))
                value = fused[p] - unit * (same + share)
                if value > best_value:
                    best, best_value = p, value
            if best is None:
                break
            expected.append(int(best))
        assert model._select(keys, fused, sources, ctx, k) == expected, trial
