"""The stopping rule's posterior and the reports' exact intervals (docs/rules.md, STOPPING_BOUNDARY).

The references are exact: with integer Beta parameters, P(Beta(a, b) > t) is the binomial probability of at most
a - 1 successes in a + b - 1 trials of chance t, summed here in rational arithmetic; a Clopper-Pearson bound is the
chance at which the binomial tail beyond the observed count is exactly alpha / 2.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from safety.stats import clopper_pearson, prob_rate_above

KNOWN_COUNTS = [(0, 1), (1, 1), (0, 10), (1, 3), (2, 3), (3, 3), (3, 6), (6, 12), (14, 48), (47, 48), (0, 48)]


def _beta_above(t: Fraction, a: int, b: int) -> Fraction:
    """P(Beta(a, b) > t) for integers a, b >= 1: at most a - 1 of a + b - 1 uniform draws fall below t."""
    trials = a + b - 1
    return sum((comb(trials, j) * t**j * (1 - t) ** (trials - j) for j in range(a)), Fraction(0))


def _binomial_at_most(x: int, n: int, p: float) -> float:
    return sum(comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(x + 1))


@pytest.mark.parametrize(
    ("x", "n", "expected"),
    [
        (2, 3, 0.916),
        (1, 3, 0.652),
        (3, 4, 0.969),
        (3, 6, 0.874),
        (4, 6, 0.971),
        (6, 12, 0.938),
        (14, 48, 0.484),
    ],
)
def test_worked_values_of_the_protocol(x: int, n: int, expected: float) -> None:
    assert round(prob_rate_above(0.30, x, n), 3) == expected


def test_equals_the_exact_binomial_sum_for_every_x_and_n_up_to_60() -> None:
    for n in range(61):
        for x in range(n + 1):
            exact = _beta_above(Fraction(3, 10), 1 + x, 1 + n - x)
            assert prob_rate_above(0.3, x, n) == pytest.approx(float(exact), abs=1e-13)


@pytest.mark.parametrize(("prior_a", "prior_b"), [(2, 3), (1, 9), (5, 1)])
def test_an_informative_prior_shifts_the_posterior_as_the_exact_sum_says(prior_a: int, prior_b: int) -> None:
    exact = _beta_above(Fraction(1, 4), prior_a + 3, prior_b + 9 - 3)
    assert prob_rate_above(0.25, 3, 9, prior_a, prior_b) == pytest.approx(float(exact), abs=1e-13)


def test_more_dlts_than_subjects_is_refused() -> None:
    with pytest.raises(ValueError, match="x <= n"):
        prob_rate_above(0.3, 4, 3)


@pytest.mark.parametrize(("x", "n"), KNOWN_COUNTS)
def test_clopper_pearson_bounds_leave_alpha_over_two_in_each_tail(x: int, n: int) -> None:
    low, high = clopper_pearson(x, n)  # type: ignore[misc]
    if x == 0:
        assert low == 0.0
    else:  # at the lower bound, x or more events happen with probability 2.5%
        assert 1.0 - _binomial_at_most(x - 1, n, low) == pytest.approx(0.025, abs=1e-10)
    if x == n:
        assert high == 1.0
    else:  # at the upper bound, x or fewer events happen with probability 2.5%
        assert _binomial_at_most(x, n, high) == pytest.approx(0.025, abs=1e-10)


def test_clopper_pearson_of_two_in_three_is_the_textbook_interval() -> None:
    low, high = clopper_pearson(2, 3)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.0943, 0.9916)


def test_clopper_pearson_is_undefined_before_anyone_is_infused() -> None:
    assert clopper_pearson(0, 0) is None


def test_clopper_pearson_rejects_more_events_than_subjects() -> None:
    with pytest.raises(ValueError, match="0 <= x <= n"):
        clopper_pearson(4, 3)
