"""Beta-binomial posterior (protocol.md, Stopping rule worked values; scipy as the reference)."""

from __future__ import annotations

import pytest
from scipy.stats import beta

from safety.stats import clopper_pearson, prob_rate_above, regularized_incomplete_beta

KNOWN_COUNTS = [(0, 1), (1, 1), (0, 10), (1, 3), (2, 3), (3, 3), (3, 6), (6, 12), (14, 48), (47, 48), (0, 48)]


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


def test_agrees_with_scipy_for_every_x_and_n_up_to_60() -> None:
    for n in range(61):
        for x in range(n + 1):
            assert prob_rate_above(0.3, x, n) == pytest.approx(beta.sf(0.3, 1 + x, 1 + n - x), abs=1e-12)


def test_incomplete_beta_edges_and_invalid_input() -> None:
    assert regularized_incomplete_beta(2, 3, 0.0) == 0.0
    assert regularized_incomplete_beta(2, 3, 1.0) == 1.0
    with pytest.raises(ValueError, match="x <= n"):
        prob_rate_above(0.3, 4, 3)


@pytest.mark.parametrize(("x", "n"), KNOWN_COUNTS)
def test_clopper_pearson_interval_equals_scipy_beta_ppf(x: int, n: int) -> None:
    low, high = clopper_pearson(x, n)  # type: ignore[misc]
    want_low = 0.0 if x == 0 else beta.ppf(0.025, x, n - x + 1)
    want_high = 1.0 if x == n else beta.ppf(0.975, x + 1, n - x)
    assert low == pytest.approx(want_low, abs=1e-10)
    assert high == pytest.approx(want_high, abs=1e-10)


def test_clopper_pearson_of_two_in_three_is_the_textbook_interval() -> None:
    low, high = clopper_pearson(2, 3)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.0943, 0.9916)


def test_clopper_pearson_is_undefined_before_anyone_is_infused() -> None:
    assert clopper_pearson(0, 0) is None


def test_clopper_pearson_rejects_more_events_than_subjects() -> None:
    with pytest.raises(ValueError, match="0 <= x <= n"):
        clopper_pearson(4, 3)


@pytest.mark.parametrize(
    ("a", "b", "x"),
    [(1, 1, 0.3), (3, 2, 0.3), (0.5, 0.5, 0.01), (15, 35, 0.3), (200, 300, 0.41), (2.5, 7.25, 0.9)],
)
def test_regularized_incomplete_beta_equals_scipy_cdf(a: float, b: float, x: float) -> None:
    assert regularized_incomplete_beta(a, b, x) == pytest.approx(beta.cdf(x, a, b), abs=1e-12)
