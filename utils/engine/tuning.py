"""Self-tuning: pick the hybrid's weights and its parts' main settings on the community's own listening.

How (`tune`): hold out a slice of each sampled member's listening (their most recent items when the data
carries play times, else a seeded random slice), fit each part on the rest, score the held-out slice with
every setting the time budget allows (each part on its own; the best stays), then search the blend's
weights on the same slice with the parts' candidate lists kept in memory, so a weight costs microseconds.
The choice is kept only when it beats the defaults on the held-out slice, and what is chosen on half of
the members also beats them on the other half (both ways round) by more than its standard error: that
cross-checked gain is the one reported, "sure" past two standard errors, "fairly sure" past one. A
community with fewer than `MIN_MEMBERS` members with `MIN_ITEMS` or more items keeps the defaults, since
a few members cannot tell one setting from another. A choice that would make the lists less varied than
the standard settings do (`list_variety`) is not kept either. `TuningReport` says what was chosen and how
sure it is, in plain words. The held-out splits and the one-pass scoring of weights are in `holdout.py`.

The variety penalty and the per-artist cap of the final list are left out of the search (HetRec knows no
artists of its artists), and `CatalogueExpansion` keeps its weight: its catalogue comes with each request.
Imports: numpy/scipy and the engine's own modules only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from utils.engine.base import Recommender
from utils.engine.data import Interactions
from utils.engine.factors import EASE, EASE_MAX_ITEMS
from utils.engine.holdout import (
    MIN_ITEMS,
    MIN_MEMBERS,
    Blend,
    Candidates,
    Holdouts,
    candidates,
    hold_outs,
    list_variety,
)

WEIGHT_STEPS = (0.0, 0.05, 0.15, 0.3, 0.5, 1.0, 2.0)
POOL = 50  # candidates per part and member in the search (hits past a part's 50th pick barely reach a top 10)
FIT_SHARE = 0.65  # of the budget, for fitting parts; the rest for the weight searches
MIN_SEARCH_SECONDS = 0.3  # the three weight searches get at least this, even when the fits ran late
# Settings tried per part, the part's own default first, most promising next (the budget may cut the tail).
GRIDS: dict[str, list[dict[str, float]]] = {
    "item_cf": [{"alpha": a, "beta": b} for b in (0.3, 0.4, 0.2, 0.5, 0.0) for a in (1.0, 0.8, 0.6)],
    "user_knn": [{"k": k, "shrink": s} for k in (20, 50, 100, 10) for s in (0.0, 10.0)],
    "ridge": [{"lam": lam} for lam in (100.0, 300.0, 30.0, 1000.0)],
    "ease": [{"lam": lam} for lam in (50.0, 200.0, 500.0, 20.0)],
    "ials": [{"factors": 48, "regularization": 0.05, "alpha": 1.0},
             {"factors": 64, "regularization": 0.5, "alpha": 2.0},
             {"factors": 32, "regularization": 0.05, "alpha": 0.5}],
}
NOT_TUNED = {"catalogue"}  # needs each request's catalogue: keeps the weight it has


@dataclass(frozen=True)
class TuningReport:
    """What tuning chose for one fit, and how sure it is (`summary()` is one plain line for admins)."""

    tuned: bool  # False: the defaults were kept (see `note`)
    note: str
    weights: dict[str, float] = field(default_factory=dict)
    settings: dict[str, dict[str, float]] = field(default_factory=dict)
    confidence: str = "none"  # "sure", "fairly sure", "not sure" or "none" (nothing measured)
    members: int = 0  # members whose held-out items were scored
    held_out: int = 0
    score: float = 0.0  # precision@k of the choice on the held-out slice
    default_score: float = 0.0  # of the defaults, on the same slice
    tried: int = 0  # settings and weight sets scored
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.tuned:
            return f"Standard settings ({self.note})"
        parts = ", ".join(f"{_LABELS.get(n, n)} {w:g}" for n, w in sorted(self.weights.items(), key=lambda kv: -kv[1])
                          if w > 0)
        gain = (self.score - self.default_score) * 100
        return (f"Tuned on {self.members} members' recent listening in {self.seconds:.1f} s: {parts}; "
                f"{gain:+.1f} hits per 100 suggestions over the standard settings ({self.confidence})")

    def as_dict(self) -> dict:
        return asdict(self)


_LABELS = {"popularity": "popular", "item_cf": "co-listening", "user_knn": "taste neighbours",
           "ridge": "similar listening", "ease": "EASE", "ials": "iALS", "catalogue": "your artists"}


def untuned(note: str) -> TuningReport:
    return TuningReport(tuned=False, note=note)


def tune(
    data: Interactions,
    components: Sequence[Recommender],
    weights: Mapping[str, float],
    *,
    k: int = 10,
    pool: int = POOL,
    budget_seconds: float = 2.5,
    seed: int = 0,
) -> TuningReport:
    """Choose settings and weights for these components on a held-out slice of `data` (see the module docstring)."""
    start = time.perf_counter()
    split = hold_outs(data, seed)
    if split is None:
        eligible = int((np.diff(data.matrix.indptr) >= MIN_ITEMS).sum())
        return untuned(f"{eligible} member{'s' if eligible != 1 else ''} with {MIN_ITEMS} or more songs; "
                       f"tuning needs {MIN_MEMBERS}")
    tunable = [c for c in components if c.name not in NOT_TUNED and _offered(c, data)]
    # Parts the defaults use come first; the others (weight 0) only when there is time for them.
    tunable.sort(key=lambda c: weights.get(c.name, 0.0) <= 0)
    trials = _try_settings(tunable, weights, split, pool, k, start + FIT_SHARE * budget_seconds)
    if time.perf_counter() > start + budget_seconds:  # a busy host: comparing now would only add to the wait
        return TuningReport(False, "the host was too busy to compare settings in the time allowed",
                            members=split.members, held_out=split.held_out,
                            tried=sum(len(t) for t in trials.values()), seconds=time.perf_counter() - start)
    defaults = {n: float(weights.get(n, 0.0)) for n in trials}
    default_hits = Blend({n: t[0].cands for n, t in trials.items()}, split.relevant, k).hits(defaults)
    # Three searches share the rest of the budget: one on each half of the members, then one on everyone.
    share = max(MIN_SEARCH_SECONDS, start + budget_seconds - time.perf_counter()) / 3
    gains, checked = _cross_gains(trials, split, default_hits, defaults, k, share, seed)
    everyone = np.arange(len(split.relevant))
    settings, chosen, chosen_score, tried = _choose(trials, split, everyone, defaults, k, time.perf_counter() + share)
    tried += checked + sum(len(t) for t in trials.values())
    default_score = float(default_hits.sum() / default_hits.size)
    seconds = time.perf_counter() - start
    # A member's repeated splits are not independent evidence: the confidence counts each member once.
    _, member = np.unique(split.member_of, return_inverse=True)
    confidence = _confidence(np.bincount(member, weights=gains))
    note = ""
    if chosen_score[0] <= default_score:
        note = "nothing tried did better than them on this server's recent listening"
    elif confidence == "not sure":
        note = "what did better for some members did not clearly carry over to the others"
    else:
        # Lists as varied as the standard settings make, at least: accuracy is not bought with sameness.
        chosen_parts = {n: next(t for t in trials[n] if t.settings == settings[n]).cands for n in trials}
        variety = list_variety(data, Blend(chosen_parts, split.relevant, k).lists(chosen))
        default_variety = list_variety(data, Blend({n: t[0].cands for n, t in trials.items()},
                                                    split.relevant, k).lists(defaults))
        if variety < default_variety:
            note = "what did better made each list less varied"
        seconds = time.perf_counter() - start
    if note:
        return TuningReport(False, note, confidence="none", members=split.members, held_out=split.held_out,
                            score=default_score, default_score=default_score, tried=tried, seconds=seconds)
    return TuningReport(
        tuned=True, note="chosen on this server's held-out listening",
        weights={**{n: float(w) for n, w in weights.items()}, **chosen}, settings=settings,
        confidence=confidence, members=split.members, held_out=split.held_out,
        score=float(default_score + gains.sum() / default_hits.size), default_score=default_score,
        tried=tried, seconds=seconds)


@dataclass
class _Trial:
    """One part at one setting: its candidates and, per member, its own hits in the top k."""

    settings: dict[str, float]
    cands: Candidates
    hits: np.ndarray  # per member: hits in the part's own top k


def _try_settings(components: Sequence[Recommender], weights: Mapping[str, float], split: Holdouts, pool: int, k: int,
                  deadline: float) -> dict[str, list[_Trial]]:
    """Fit each part at each setting the budget allows (own settings first); candidates of each, by part.

    Parts the defaults use are always tried at their own settings. Any other setting is tried only while
    its part's last fit would still end before the deadline, and dropped half-way when its first split
    shows the rest would not.
    """
    trials: dict[str, list[_Trial]] = {}
    fit_cost: dict[str, float] = {}
    for comp, setting in _settings_queue(components):
        needed = comp.name not in trials and weights.get(comp.name, 0.0) > 0
        if not needed and time.perf_counter() + fit_cost.get(comp.name, 0.0) > deadline:
            continue
        each = []
        for rep in split.reps:
            t0 = time.perf_counter()
            each.append(candidates(comp.configured(**setting).fit(rep.train), rep, pool))
            fit_cost[comp.name] = (time.perf_counter() - t0) * len(split.reps)
            if not needed and len(each) < len(split.reps) and time.perf_counter() + fit_cost[comp.name] * (
                    len(split.reps) - len(each)) / len(split.reps) > deadline:
                break
        if len(each) < len(split.reps):
            continue
        cands = Candidates(np.vstack([c.cols for c in each]), np.vstack([c.vals for c in each]))
        hits = Blend({"only": cands}, split.relevant, k).hits({"only": 1.0}).sum(axis=1)
        trials.setdefault(comp.name, []).append(_Trial({**comp.settings(), **setting}, cands, hits))
    return trials


def _choose(trials: Mapping[str, list[_Trial]], split: Holdouts, rows: np.ndarray, defaults: Mapping[str, float],
            k: int, deadline: float) -> tuple[dict[str, dict[str, float]], dict[str, float], tuple[float, float], int]:
    """Best setting per part (by its own hits on these members), then the best weights for them together."""
    picked = {name: max(options, key=lambda t: (t.hits[rows].sum(), t is options[0])) for name, options in trials.items()}
    blend = Blend({n: t.cands for n, t in picked.items()}, [split.relevant[r] for r in rows], k, rows)
    weights, score, tried = _search(blend, defaults, deadline)
    return {n: t.settings for n, t in picked.items()}, weights, score, tried


def _cross_gains(trials: Mapping[str, list[_Trial]], split: Holdouts, default_hits: np.ndarray,
                 defaults: Mapping[str, float], k: int, seconds_each: float, seed: int) -> tuple[np.ndarray, int]:
    """Per member, hits gained over the defaults by settings and weights chosen on the OTHER half of the members.

    This is what tuning would gain for members it has not seen; it guards small servers from choices that only
    fit the noise of the members they were made on.
    """
    # Halves of the members, not of the lists: a member's repeated splits stay on one side.
    members = np.unique(split.member_of)
    first = np.random.default_rng(seed + 1).permutation(members)[: len(members) // 2]
    in_first = np.isin(split.member_of, first)
    halves = (np.flatnonzero(in_first), np.flatnonzero(~in_first))
    gains = np.zeros(len(default_hits))
    tried = 0
    for choose_on, check_on in (halves, halves[::-1]):
        settings, weights, _, n = _choose(trials, split, choose_on, defaults, k, time.perf_counter() + seconds_each)
        tried += n
        parts = {name: next(t for t in trials[name] if t.settings == settings[name]).cands for name in trials}
        check = Blend(parts, [split.relevant[r] for r in check_on], k, check_on)
        gains[check_on] = check.hits(weights).sum(axis=1) - default_hits[check_on].sum(axis=1)
    return gains, tried


def _offered(comp: Recommender, data: Interactions) -> bool:
    """EASE only for small catalogues (its cost is cubic in items)."""
    return not isinstance(comp, EASE) or EASE.item_count(data, comp.min_listeners) <= EASE_MAX_ITEMS


def _settings_queue(components: Sequence[Recommender]) -> list[tuple[Recommender, dict[str, float]]]:
    """Every part's current settings first, then the grids' other settings in turns across parts."""
    grids = []
    for comp in components:
        own = comp.settings()
        grid = [g for g in GRIDS.get(comp.name, []) if any(own.get(key) != v for key, v in g.items())]
        grids.append([(comp, {})] + [(comp, g) for g in grid])
    queue = []
    for turn in range(max((len(g) for g in grids), default=0)):
        queue.extend(g[turn] for g in grids if turn < len(g))
    return queue


def _search(blend: Blend, start: Mapping[str, float], deadline: float) -> tuple[dict[str, float], tuple[float, float], int]:
    """Coordinate ascent over each part's weight on `WEIGHT_STEPS`, until no step helps or time runs out."""
    current = dict(start)
    if not any(current.values()):
        current = dict.fromkeys(current, 1.0)
    score = blend.score(current)
    tried = 1
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for name in blend.names:
            for step in WEIGHT_STEPS:
                if step == current[name]:
                    continue
                trial = {**current, name: step}
                if not any(trial.values()):
                    continue
                result = blend.score(trial)
                tried += 1
                if result > score:
                    current, score, improved = trial, result, True
    return current, score, tried


def _confidence(gains: np.ndarray) -> str:
    """How sure the gain over the defaults is: its mean against its standard error across members."""
    if len(gains) < 2:
        return "not sure"
    error = float(gains.std(ddof=1)) / math.sqrt(len(gains))
    mean = float(gains.mean())
    if error == 0:
        return "sure" if mean > 0 else "not sure"
    if mean > 2 * error:
        return "sure"
    return "fairly sure" if mean > error else "not sure"
