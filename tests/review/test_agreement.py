"""Agreement measures: published worked examples, the krippendorff package, direct formulas,
edge cases and the bootstrap."""

import functools
import itertools
import math

import krippendorff
import numpy as np
import pytest

from annotator.review.agreement import (
    Estimate,
    _alpha_many,
    _multi_profiles,
    bootstrap_interval,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
    question_agreement,
    tally_units,
)

# --- published worked examples ----------------------------------------------------------------

# Krippendorff, K. (2011). "Computing Krippendorff's Alpha-Reliability", example C: nominal
# data, 4 observers (rows) x 12 units (columns), missing values (None); nominal alpha = 0.743.
# The same data are the "C" example of DescTools::KrippAlpha (R) and the doctest of the
# `krippendorff` package.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]

# Fleiss' kappa worked example (Wikipedia, "Fleiss' kappa", after Fleiss 1971): 10 subjects
# rated by 14 raters into 5 categories; each row says how many raters chose each category.
# kappa = 0.20993 (P-bar = 0.378, P_e = 0.213).
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Cohen's kappa example (Wikipedia, "Cohen's kappa", simple example): 50 grant proposals
# read by readers A and B. Both yes 20, A yes B no 5, A no B yes 10, both no 15:
# p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.4.
COHEN_CELLS = {("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}


def units_from_rows(rows):
    """Coders as rows, units as columns (the reliability-data layout); None is missing."""
    return {u: {c: row[u] for c, row in enumerate(rows)} for u in range(len(rows[0]))}


def units_from_counts(table):
    """Fleiss' layout: per subject, how many raters chose each category."""
    units = {}
    for subject, counts in enumerate(table):
        labels = [category for category, n in enumerate(counts) for _ in range(n)]
        units[subject] = {rater: label for rater, label in enumerate(labels)}
    return units


def units_from_cells(cells):
    units, unit = {}, 0
    for (a, b), n in cells.items():
        for _ in range(n):
            units[unit] = {"A": a, "B": b}
            unit += 1
    return units


def test_alpha_reproduces_krippendorffs_nominal_example():
    assert krippendorff_alpha(units_from_rows(KRIPPENDORFF_2011)) == pytest.approx(0.743, abs=5e-4)


def test_fleiss_kappa_reproduces_the_worked_example():
    assert fleiss_kappa(units_from_counts(FLEISS_TABLE)) == pytest.approx(0.20993, abs=1e-5)


def test_cohen_kappa_reproduces_the_grant_proposal_example():
    units = units_from_cells(COHEN_CELLS)
    assert cohen_kappa(units, "A", "B") == pytest.approx(0.4)
    assert confusion_matrix(units, "A", "B") == COHEN_CELLS
    assert percent_agreement(units) == pytest.approx(0.7)


# --- random data against the package and direct formulas ----------------------------------------


def random_units(seed, *, units=60, coders=4, values=4, missing=0.3):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, values, size=units)
    data = {}
    for u in range(units):
        labels = {}
        for c in range(coders):
            if rng.random() < missing:
                continue
            # Mostly the true value, sometimes a random one: realistic, imperfect agreement.
            labels[f"coder-{c}"] = (
                f"v{truth[u]}" if rng.random() < 0.7 else f"v{rng.integers(0, values)}"
            )
        data[u] = labels
    return data


def direct_alpha(units):
    """Nominal alpha from the coincidence matrix, as in Krippendorff (2011)."""
    values = sorted({v for labels in units.values() for v in labels.values()})
    o = {(c, k): 0.0 for c in values for k in values}
    for labels in units.values():
        present = list(labels.values())
        m = len(present)
        if m < 2:
            continue
        for i, j in itertools.permutations(range(m), 2):
            o[(present[i], present[j])] += 1 / (m - 1)
    n_c = {c: sum(o[(c, k)] for k in values) for c in values}
    n = sum(n_c.values())
    observed = sum(o[(c, k)] for c in values for k in values if c != k) / n
    expected = sum(n_c[c] * n_c[k] for c in values for k in values if c != k) / (n * (n - 1))
    return 1 - observed / expected


def direct_cohen(units, a, b):
    both = [(lab[a], lab[b]) for lab in units.values() if a in lab and b in lab]
    n = len(both)
    observed = sum(x == y for x, y in both) / n
    values = {v for pair in both for v in pair}
    expected = sum(
        (sum(x == v for x, _ in both) / n) * (sum(y == v for _, y in both) / n) for v in values
    )
    return (observed - expected) / (1 - expected)


def direct_fleiss(units):
    rows = [list(lab.values()) for lab in units.values() if len(lab) >= 2]
    r = len(rows[0])
    values = sorted({v for row in rows for v in row})
    p_bar = sum((sum(row.count(v) ** 2 for v in values) - r) / (r * (r - 1)) for row in rows)
    p_bar /= len(rows)
    p_e = sum((sum(row.count(v) for row in rows) / (len(rows) * r)) ** 2 for v in values)
    return (p_bar - p_e) / (1 - p_e)


def as_reliability_matrix(units, coders):
    index = {}
    matrix = np.full((len(coders), len(units)), np.nan)
    for u, labels in enumerate(units.values()):
        for c, coder in enumerate(coders):
            if coder in labels:
                matrix[c, u] = index.setdefault(labels[coder], len(index))
    return matrix


@pytest.mark.parametrize("seed", range(6))
def test_alpha_matches_the_krippendorff_package_and_the_coincidence_formula(seed):
    units = random_units(seed)
    coders = [f"coder-{c}" for c in range(4)]
    package = krippendorff.alpha(
        reliability_data=as_reliability_matrix(units, coders), level_of_measurement="nominal"
    )
    assert krippendorff_alpha(units) == pytest.approx(package, abs=1e-12)
    assert krippendorff_alpha(units) == pytest.approx(direct_alpha(units), abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_the_fast_per_unit_alpha_equals_the_package(seed):
    units = random_units(seed, units=200, coders=5, values=6, missing=0.4)
    profiles, frequency = _multi_profiles(tally_units(units))
    fast = _alpha_many(profiles, frequency[np.newaxis, :])[0]
    assert fast == pytest.approx(krippendorff_alpha(units), abs=1e-9)
    # The tables use the fast form for their point value too.
    table = question_agreement("q", "all", units, resamples=50)
    assert table.alpha.value == pytest.approx(krippendorff_alpha(units), abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_cohen_kappa_matches_the_direct_formula(seed):
    units = random_units(seed)
    for a, b in itertools.combinations([f"coder-{c}" for c in range(4)], 2):
        assert cohen_kappa(units, a, b) == pytest.approx(direct_cohen(units, a, b), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_fleiss_kappa_matches_the_direct_formula_without_missing_labels(seed):
    units = random_units(seed, coders=3, missing=0.0)
    assert fleiss_kappa(units) == pytest.approx(direct_fleiss(units), abs=1e-12)


def test_with_two_coders_and_no_missing_labels_fleiss_is_scotts_pi_close_to_alpha():
    # Known identity: alpha = 1 - (n - 1)/n * (1 - pi) for two coders and N units (n = 2N).
    units = random_units(3, coders=2, missing=0.0)
    n = 2 * len(units)
    pi = fleiss_kappa(units)
    assert krippendorff_alpha(units) == pytest.approx(1 - (n - 1) / n * (1 - pi), abs=1e-12)


# --- percent agreement by hand ------------------------------------------------------------------


def test_percent_agreement_counts_agreeing_pairs_within_units():
    units = {
        1: {"a": "x", "b": "x", "c": "y"},  # pairs ab agree, ac and bc not: 1 of 3
        2: {"a": "x", "b": "x"},  # 1 of 1
        3: {"a": "y", "c": "z"},  # 0 of 1
    }
    assert percent_agreement(units) == pytest.approx(2 / 5)


def test_a_unit_with_one_label_is_ignored():
    units = {1: {"a": "x", "b": "x"}, 2: {"a": "x", "b": "y"}, 3: {"a": "y", "b": "y"}}
    with_single = {**units, 4: {"a": "z"}, 5: {"b": "x", "c": None}}
    for measure in (percent_agreement, krippendorff_alpha, fleiss_kappa):
        assert measure(with_single) == measure(units)
    assert cohen_kappa(with_single, "a", "b") == cohen_kappa(units, "a", "b")


# --- edge cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "units",
    [
        {},  # no units
        {1: {"a": "x"}, 2: {"a": "y"}, 3: {"a": "x"}},  # one coder
        {1: {"a": "x", "b": "y"}},  # a single pairable unit: too little to say anything
    ],
    ids=["no units", "one coder", "one pairable unit"],
)
def test_too_little_data_gives_none(units):
    assert krippendorff_alpha(units) is None
    assert fleiss_kappa(units) is None
    assert percent_agreement(units) is None
    assert cohen_kappa(units, "a", "b") is None
    assert bootstrap_interval(krippendorff_alpha, units) == (None, None)


def test_identical_values_everywhere_leave_chance_corrected_measures_undefined():
    # Decision: with no variation, alpha and the kappas are 0/0, so None ("cannot tell"),
    # while raw agreement is plainly 100%.
    units = {u: {"a": "x", "b": "x", "c": "x"} for u in range(10)}
    assert krippendorff_alpha(units) is None
    assert fleiss_kappa(units) is None
    assert cohen_kappa(units, "a", "b") is None
    assert percent_agreement(units) == 1.0


def test_fleiss_needs_the_same_number_of_labels_on_every_unit():
    units = {1: {"a": "x", "b": "x"}, 2: {"a": "x", "b": "y", "c": "y"}, 3: {"a": "y", "b": "y"}}
    assert fleiss_kappa(units) is None
    assert krippendorff_alpha(units) is not None


def test_cohen_kappa_only_uses_units_both_coders_labelled():
    units = {
        1: {"a": "x", "b": "x"},
        2: {"a": "y", "b": "y"},
        3: {"a": "x", "c": "y"},
        4: {"b": "y", "c": "x"},
    }
    assert cohen_kappa(units, "a", "b") == 1.0
    assert confusion_matrix(units, "a", "b") == {("x", "x"): 1, ("y", "y"): 1}


def test_labels_may_be_booleans_and_coders_any_hashable():
    units = {1: {1: True, "two": True}, 2: {1: False, "two": True}, 3: {1: False, "two": False}}
    assert percent_agreement(units) == pytest.approx(2 / 3)
    assert cohen_kappa(units, 1, "two") == pytest.approx(direct_cohen(units, 1, "two"))


# --- bootstrap ------------------------------------------------------------------------------------


def test_the_interval_contains_the_point_value_on_typical_data():
    units = random_units(1, units=150)
    for measure in (krippendorff_alpha, percent_agreement):
        low, high = bootstrap_interval(measure, units)
        assert low < measure(units) < high
    pair = functools.partial(cohen_kappa, a="coder-0", b="coder-1")
    low, high = bootstrap_interval(pair, units)
    assert low < pair(units) < high
    three = random_units(2, units=150, coders=3, missing=0.0)
    low, high = bootstrap_interval(fleiss_kappa, three)
    assert low < fleiss_kappa(three) < high


def test_the_interval_is_deterministic_for_a_seed():
    units = random_units(2)
    first = bootstrap_interval(krippendorff_alpha, units, seed=7)
    assert bootstrap_interval(krippendorff_alpha, units, seed=7) == first
    assert bootstrap_interval(krippendorff_alpha, units, seed=8) != first


def test_the_interval_narrows_with_more_units():
    few = random_units(4, units=40)
    # The same comments ten times over: same point value, a tenth of the sampling noise.
    many = {(copy, u): labels for copy in range(10) for u, labels in few.items()}
    assert krippendorff_alpha(many) == pytest.approx(krippendorff_alpha(few), abs=0.02)
    low_few, high_few = bootstrap_interval(krippendorff_alpha, few)
    low_many, high_many = bootstrap_interval(krippendorff_alpha, many)
    assert high_many - low_many < (high_few - low_few) / 2


def test_any_statistic_can_be_bootstrapped_and_agrees_with_the_fast_path():
    units = random_units(5, units=120)
    fast = bootstrap_interval(krippendorff_alpha, units, resamples=400)
    slow = bootstrap_interval(lambda u: krippendorff_alpha(u), units, resamples=400)
    assert slow[0] == pytest.approx(fast[0], abs=0.05)
    assert slow[1] == pytest.approx(fast[1], abs=0.05)


def test_resamples_where_the_measure_is_undefined_are_left_out():
    # One disagreement in 40 units: about a third of the resamples miss it, show no variation
    # and have no alpha; the interval comes from the others instead of failing.
    units = {u: {"a": "x", "b": "x"} for u in range(39)}
    units[39] = {"a": "x", "b": "y"}
    assert krippendorff_alpha(units) == pytest.approx(0.0)
    low, high = bootstrap_interval(krippendorff_alpha, units)
    assert low is not None and high is not None
    assert math.isfinite(low) and low <= 0.0 <= high <= 1.0


def test_an_interval_needs_the_measure_defined_in_most_resamples():
    units = {u: {"a": "x", "b": "x" if u else "y"} for u in range(10)}

    def drawn(sample, times):
        # Keys of a resample are (draw, unit): defined only when unit 0 came up often enough.
        return 1.0 if sum(unit == 0 for _draw, unit in sample) >= times else None

    # Unit 0 at least once in about 65% of resamples, at least twice in about 26%.
    assert bootstrap_interval(functools.partial(drawn, times=1), units) == (1.0, 1.0)
    assert bootstrap_interval(functools.partial(drawn, times=2), units) == (None, None)


# --- one question -----------------------------------------------------------------------------


def test_question_agreement_reports_every_measure_with_its_units():
    units = units_from_rows(KRIPPENDORFF_2011)
    result = question_agreement("stance_article", "all", units, resamples=200)
    assert result.question == "stance_article" and result.subset == "all"
    assert result.alpha.value == pytest.approx(0.743, abs=5e-4)
    assert result.alpha.units == 11  # unit 12 has one label
    assert result.alpha.low < result.alpha.value < result.alpha.high
    assert result.percent.value == pytest.approx(percent_agreement(units))
    assert result.fleiss == Estimate(None, None, None, 11)  # 2 to 4 labels per unit
    assert [(p.a, p.b) for p in result.pairs] == list(itertools.combinations(range(4), 2))
    first = result.pairs[0]
    assert first.kappa.value == pytest.approx(cohen_kappa(units, 0, 1))
    assert first.kappa.units == sum(1 for lab in units.values() if None not in (lab[0], lab[1]))
    assert first.percent.value == pytest.approx(
        sum(lab[0] == lab[1] for lab in units.values() if None not in (lab[0], lab[1]))
        / first.percent.units
    )


def test_question_agreement_on_nothing_is_a_row_of_nones():
    result = question_agreement("checkworthy", "top-level", {})
    empty = Estimate(None, None, None, 0)
    assert (result.alpha, result.fleiss, result.percent, result.pairs) == (empty, empty, empty, [])


def test_tallies_of_disjoint_units_add_up_to_the_tally_of_all():
    units = random_units(6)
    odd = {u: lab for u, lab in units.items() if u % 2}
    even = {u: lab for u, lab in units.items() if not u % 2}
    together, added = tally_units(units), tally_units(odd) + tally_units(even)
    assert together.profiles == added.profiles
    assert together.pairs == added.pairs
