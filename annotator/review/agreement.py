"""Agreement between annotators, as pure functions over plain data (no database).

The input is ``Units``: comment id -> annotator id -> label, the shape every reliability
measure starts from. ``measures.py`` builds it from the database; exports and tests build it
by hand. A label of ``None`` counts as missing.

Which units count. Only *pairable* units, those with at least two labels, carry information
about agreement; a comment labelled once is ignored everywhere (as in Krippendorff's alpha).
A measure needs at least ``MIN_UNITS`` pairable units, otherwise it is ``None``: a figure that
rests on one comment says nothing.

Undefined values. When the pairable labels show no variation at all (everyone always chose
the same value), the chance-corrected measures are 0/0: alpha, Fleiss' kappa and Cohen's kappa
are ``None`` ("cannot tell"), not 1.0, because such data cannot tell reliable coders from
coders who ticked the first box; percent agreement still says 1.0. This follows Krippendorff,
who calls such data uninformative.

Intervals. ``bootstrap_interval`` resamples units with replacement and takes the percentile
interval. Resamples in which the measure is undefined are left out; when more than half are,
the interval is ``None``. For the measures of this module the bootstrap is fast: every unit is
reduced once to its category counts, units with the same counts share one *profile*, and a
resample is a multinomial draw of how many copies of each profile it holds (exactly the law of
drawing units with replacement), so 1,000 resamples are a few matrix products instead of
1,000 runs of the formula.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

import krippendorff
import numpy as np

Label = Hashable
Units = Mapping[Hashable, Mapping[Hashable, Label]]

MIN_UNITS = 2  # pairable units a measure needs before it means anything
DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class Estimate:
    """A measure's value, its bootstrap 95% interval and the number of comments it rests on.

    ``units`` counts the pairable comments (for a pair of annotators, the comments both
    labelled), also when the value is ``None``: "Fleiss' kappa: not applicable, 40 comments"
    and "alpha: no variation in 3 comments" read differently.
    """

    value: float | None
    low: float | None
    high: float | None
    units: int


@dataclass(frozen=True)
class PairAgreement:
    """Cohen's kappa and percent agreement of two annotators over the comments both labelled."""

    a: Hashable
    b: Hashable
    kappa: Estimate
    percent: Estimate


@dataclass(frozen=True)
class QuestionAgreement:
    """Every measure for one question (or one value of a multiple-choice question) and subset."""

    question: str
    subset: str
    alpha: Estimate
    fleiss: Estimate
    percent: Estimate
    pairs: list[PairAgreement]


# -- encoding: units -> tallies -> per-profile category counts ----------------------------------


def _before(x: Hashable, y: Hashable) -> bool:
    """A fixed order of coder ids, even when they do not compare (then by repr)."""
    try:
        return x < y  # type: ignore[operator]
    except TypeError:
        return repr(x) < repr(y)


def _compare(x: Hashable, y: Hashable) -> int:
    return -1 if _before(x, y) else (1 if _before(y, x) else 0)


_coder_key = functools.cmp_to_key(_compare)


@dataclass
class Tally:
    """What the measures need to know about a set of units, in one pass over them.

    ``profiles`` counts the pairable units by their multiset of labels (as a tuple); ``pairs``
    counts, for each two coders, the units on which they gave each pair of labels. Tallies of
    disjoint sets of units add up, so "all comments" is "top-level" + "replies".
    """

    profiles: Counter = field(default_factory=Counter)
    pairs: dict[tuple[Hashable, Hashable], Counter] = field(default_factory=dict)

    def __add__(self, other: Tally) -> Tally:
        pairs = {key: Counter(table) for key, table in self.pairs.items()}
        for key, table in other.pairs.items():
            pairs.setdefault(key, Counter()).update(table)
        return Tally(self.profiles + other.profiles, pairs)

    @property
    def units(self) -> int:
        return sum(self.profiles.values())


def tally_units(units: Units) -> Tally:
    """Reduce units to their ``Tally``; units with fewer than two labels are left out.

    Units are first counted by their exact (coder, label) items, which runs at C speed and
    leaves few distinct shapes (pairs of annotators x pairs of values), then each shape is
    read once.
    """
    return tally_shapes(
        Counter(tuple(labels.items()) for labels in units.values() if len(labels) >= 2)
    )


def tally_shapes(shapes: Mapping[tuple[tuple[Hashable, Label], ...], int]) -> Tally:
    """The ``Tally`` of units given as shapes: a unit's ``(coder, label)`` items, each shape
    with the number of units that have it. For callers that count units as they stream."""
    profiles: Counter = Counter()
    pairs: dict[tuple[Hashable, Hashable], Counter] = {}
    for shape, count in shapes.items():
        present = [(coder, value) for coder, value in shape if value is not None]
        if len(present) < 2:
            continue
        values = [value for _coder, value in present]
        try:
            profiles[tuple(sorted(values))] += count
        except TypeError:  # labels that do not compare: equal multisets may count apart,
            profiles[tuple(values)] += count  # which changes no measure, only compression
        if len(present) > 2:
            present.sort(key=lambda item: _coder_key(item[0]))
        for (a, x), (b, y) in itertools.combinations(present, 2):
            if _before(b, a):
                a, x, b, y = b, y, a, x
            table = pairs.get((a, b))
            if table is None:
                table = pairs[(a, b)] = Counter()
            table[(x, y)] += count
    return Tally(profiles, pairs)


def _multi_profiles(tally: Tally) -> tuple[np.ndarray, np.ndarray]:
    """Distinct label multisets as category counts (K x V), and how many units have each."""
    index: dict[Label, int] = {}
    rows = []
    for key in tally.profiles:
        rows.append([index.setdefault(value, len(index)) for value in key])
    matrix = np.zeros((len(rows), max(len(index), 1)))
    for row, columns in enumerate(rows):
        np.add.at(matrix[row], columns, 1.0)
    return matrix, np.fromiter(tally.profiles.values(), dtype=np.float64, count=len(rows))


def _pair_profiles(table: Mapping[tuple[Label, Label], int]) -> tuple[np.ndarray, np.ndarray]:
    """Profiles for two coders: [a's value index, b's value index, number of values]."""
    index: dict[Label, int] = {}
    codes = [(index.setdefault(x, len(index)), index.setdefault(y, len(index))) for x, y in table]
    if not codes:
        return np.zeros((0, 3)), np.zeros(0)
    matrix = np.column_stack(
        [np.asarray(codes, dtype=np.float64), np.full(len(codes), float(len(index)))]
    )
    return matrix, np.fromiter(table.values(), dtype=np.float64, count=len(codes))


# -- measures as functions of profile weights ----------------------------------------------------
# Each takes the profiles (K x V counts) and weights (R x K: how many copies of each profile a
# sample holds) and returns R values, NaN where the measure is undefined. With the observed
# frequencies as the single row of weights they give the point value.


def _alpha_many(profiles: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Nominal Krippendorff's alpha from each unit's coincidence-matrix contribution.

    A unit with counts c and m labels adds (c c' - diag c) / (m - 1) to the coincidence
    matrix; for the nominal metric only its diagonal sum (agreeing pairable values) and its
    margins (c) matter, so alpha = 1 - (n - 1)(n - diag) / (n^2 - sum_c n_c^2).
    """
    m = profiles.sum(axis=1)
    agreeing = (profiles * (profiles - 1)).sum(axis=1) / (m - 1)
    n_c = weights @ profiles
    n = n_c.sum(axis=1)
    diagonal = weights @ agreeing
    expected = n * n - (n_c * n_c).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (n - 1.0) * (n - diagonal) / expected
    return np.where(expected > 0, alpha, np.nan)


def _percent_many(profiles: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Agreeing coder pairs over all coder pairs within units, pooled over units."""
    m = profiles.sum(axis=1)
    agreeing = weights @ ((profiles * (profiles - 1)).sum(axis=1) / 2)
    pairs = weights @ (m * (m - 1) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, agreeing / pairs, np.nan)


def _fleiss_many(profiles: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fleiss' kappa (1971); the caller checks that every unit has the same number of labels."""
    raters = profiles[0].sum()
    per_unit = ((profiles * profiles).sum(axis=1) - raters) / (raters * (raters - 1))
    units = weights.sum(axis=1)
    observed = (weights @ per_unit) / units
    n_c = weights @ profiles
    total = units * raters
    # 1 - P_e as (total^2 - sum n_c^2) / total^2: exact zero when only one category is used.
    spread = total * total - (n_c * n_c).sum(axis=1)
    expected = (n_c * n_c).sum(axis=1) / (total * total)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - expected) / (1.0 - expected)
    return np.where(spread > 0, kappa, np.nan)


def _cohen_many(profiles: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Cohen's kappa; a profile is [index of a's value, index of b's value, number of values]."""
    size = int(profiles[0, 2])
    first = np.eye(size)[profiles[:, 0].astype(int)]
    second = np.eye(size)[profiles[:, 1].astype(int)]
    same = (profiles[:, 0] == profiles[:, 1]).astype(np.float64)
    units = weights.sum(axis=1)
    observed = (weights @ same) / units
    chance_count = ((weights @ first) * (weights @ second)).sum(axis=1)
    spread = units * units - chance_count
    expected = chance_count / (units * units)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - expected) / (1.0 - expected)
    return np.where(spread > 0, kappa, np.nan)


def _pair_percent_many(profiles: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Share of units on which two coders agree (profiles as for ``_cohen_many``)."""
    same = (profiles[:, 0] == profiles[:, 1]).astype(np.float64)
    return (weights @ same) / weights.sum(axis=1)


def _point(many: Callable, profiles: np.ndarray, frequency: np.ndarray) -> float | None:
    if frequency.sum() < MIN_UNITS:
        return None
    value = many(profiles, frequency[np.newaxis, :])[0]
    return None if np.isnan(value) else float(value)


def _interval(
    many: Callable,
    profiles: np.ndarray,
    frequency: np.ndarray,
    *,
    resamples: int,
    seed: int,
    level: float,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap over units, drawn as multinomial counts of each profile."""
    total = int(frequency.sum())
    if total < MIN_UNITS or resamples < 1:
        return None, None
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(total, frequency / total, size=resamples).astype(np.float64)
    return _percentiles(many(profiles, weights), resamples, level)


def _percentiles(
    values: np.ndarray, resamples: int, level: float
) -> tuple[float | None, float | None]:
    defined = values[~np.isnan(values)]
    if len(defined) * 2 < resamples:
        return None, None
    tail = (1.0 - level) / 2
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    return float(low), float(high)


# -- the public measures ------------------------------------------------------------------------


def percent_agreement(units: Units) -> float | None:
    """Share of agreeing pairs among all pairs of coders within the same unit."""
    return _point(_percent_many, *_multi_profiles(tally_units(units)))


def _alpha_from_profiles(profiles: np.ndarray, frequency: np.ndarray) -> float | None:
    """Nominal alpha by the ``krippendorff`` package, ``None`` where it is undefined."""
    if frequency.sum() < MIN_UNITS or profiles.shape[1] < 2:
        return None
    counts = np.repeat(profiles, frequency.astype(np.int64), axis=0)
    return float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))


def krippendorff_alpha(units: Units) -> float | None:
    """Krippendorff's alpha for nominal data, computed by the ``krippendorff`` package.

    Missing labels are fine (each unit counts with the labels it has); ``None`` with fewer
    than two pairable units or with no variation in the values.
    """
    return _alpha_from_profiles(*_multi_profiles(tally_units(units)))


def _same_size(profiles: np.ndarray) -> bool:
    sizes = profiles.sum(axis=1)
    return len(sizes) > 0 and bool((sizes == sizes[0]).all())


def _fleiss_profiles(tally: Tally) -> tuple[np.ndarray, np.ndarray]:
    """The profiles for Fleiss' kappa: none at all unless every unit has as many labels."""
    profiles, frequency = _multi_profiles(tally)
    if not _same_size(profiles):
        return np.zeros((0, 1)), np.zeros(0)
    return profiles, frequency


def fleiss_kappa(units: Units) -> float | None:
    """Fleiss' kappa; ``None`` unless every pairable unit has the same number of labels."""
    return _point(_fleiss_many, *_fleiss_profiles(tally_units(units)))


def confusion_matrix(units: Units, a: Hashable, b: Hashable) -> dict[tuple[Label, Label], int]:
    """How often ``a`` gave one value while ``b`` gave another, over units both labelled."""
    table: dict[tuple[Label, Label], int] = {}
    for labels in units.values():
        first, second = labels.get(a), labels.get(b)
        if first is not None and second is not None:
            table[(first, second)] = table.get((first, second), 0) + 1
    return table


def cohen_kappa(units: Units, a: Hashable, b: Hashable) -> float | None:
    """Cohen's kappa of coders ``a`` and ``b`` over the units both labelled."""
    return _point(_cohen_many, *_pair_profiles(confusion_matrix(units, a, b)))


# -- bootstrap --------------------------------------------------------------------------------


def _fast_path(statistic: Callable) -> tuple[Callable, Callable[[Units], tuple]] | None:
    """The vectorised form of a measure of this module, and how to profile units for it."""
    if statistic is percent_agreement:
        return _percent_many, lambda units: _multi_profiles(tally_units(units))
    if statistic is krippendorff_alpha:
        return _alpha_many, lambda units: _multi_profiles(tally_units(units))
    if statistic is fleiss_kappa:
        return _fleiss_many, lambda units: _fleiss_profiles(tally_units(units))
    if (
        isinstance(statistic, functools.partial)
        and statistic.func is cohen_kappa
        and not statistic.args
        and set(statistic.keywords) == {"a", "b"}
    ):
        a, b = statistic.keywords["a"], statistic.keywords["b"]
        return _cohen_many, lambda units: _pair_profiles(confusion_matrix(units, a, b))
    return None


def bootstrap_interval(
    statistic: Callable[[Units], float | None],
    units: Units,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of ``statistic``, resampling pairable units.

    The measures of this module (and ``functools.partial(cohen_kappa, a=..., b=...)``) take
    the fast profile path; any other callable is run once per resample on resampled units
    (keyed ``(draw, unit)`` so that a unit drawn twice counts twice).
    """
    fast = _fast_path(statistic)
    if fast is not None:
        many, profile = fast
        return _interval(many, *profile(units), resamples=resamples, seed=seed, level=level)
    pairable = [
        (unit, labels)
        for unit, labels in units.items()
        if sum(value is not None for value in labels.values()) >= 2
    ]
    if len(pairable) < MIN_UNITS or resamples < 1:
        return None, None
    rng = np.random.default_rng(seed)
    values = np.full(resamples, np.nan)
    for r in range(resamples):
        drawn = rng.integers(0, len(pairable), size=len(pairable))
        sample = {(i, pairable[j][0]): pairable[j][1] for i, j in enumerate(drawn)}
        value = statistic(sample)
        if value is not None:
            values[r] = value
    return _percentiles(values, resamples, level)


# -- one question --------------------------------------------------------------------------------


def _estimate(
    many: Callable,
    profiles: np.ndarray,
    frequency: np.ndarray,
    *,
    resamples: int,
    seed: int,
    units: int | None = None,
    value: float | None = None,
    point_given: bool = False,
) -> Estimate:
    if units is None:
        units = int(frequency.sum())
    if not point_given:
        value = _point(many, profiles, frequency)
    if value is None:
        return Estimate(None, None, None, units)
    low, high = _interval(many, profiles, frequency, resamples=resamples, seed=seed, level=0.95)
    return Estimate(value, low, high, units)


def agreement_from_tally(
    question: str,
    subset: str,
    tally: Tally,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> QuestionAgreement:
    """``question_agreement`` from a ``Tally`` (for callers that add tallies of subsets)."""
    options = {"resamples": resamples, "seed": seed}
    profiles, frequency = _multi_profiles(tally)
    # The closed form on distinct profiles, not the package: the package wants every unit
    # spelled out, which for a million comments is hundreds of megabytes. Tests check that
    # both give the same alpha.
    alpha = _estimate(_alpha_many, profiles, frequency, **options)
    percent = _estimate(_percent_many, profiles, frequency, **options)
    fleiss = _estimate(
        _fleiss_many, *_fleiss_profiles(tally), units=int(frequency.sum()), **options
    )
    pairs = []
    for (a, b), table in sorted(
        tally.pairs.items(), key=lambda item: (_coder_key(item[0][0]), _coder_key(item[0][1]))
    ):
        pair_profiles, pair_frequency = _pair_profiles(table)
        pairs.append(
            PairAgreement(
                a=a,
                b=b,
                kappa=_estimate(_cohen_many, pair_profiles, pair_frequency, **options),
                percent=_estimate(_pair_percent_many, pair_profiles, pair_frequency, **options),
            )
        )
    return QuestionAgreement(question, subset, alpha, fleiss, percent, pairs)


def question_agreement(
    question: str,
    subset: str,
    units: Units,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> QuestionAgreement:
    """Alpha, Fleiss' kappa, percent agreement and every pair's Cohen's kappa, with intervals.

    The units are reduced once to per-unit counts and every interval is drawn from them, so
    this is cheap enough to run for every question on page load. Pairs are the annotators who
    labelled at least one comment in common, each pair once, in a fixed order.
    """
    return agreement_from_tally(
        question, subset, tally_units(units), resamples=resamples, seed=seed
    )
