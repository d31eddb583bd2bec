"""Beta-binomial posterior (protocol.md, Stopping rule worked values; scipy as the reference)."""

from __future__ import annotations

import pytest
from scipy.stats import beta

from safety.posterior import prob_rate_above, regularized_incomplete_beta


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
