"""Beta-binomial posterior of the DLT rate (the stopping rule) and exact binomial intervals (the reports).

With a Beta(a, b) prior and x subjects with a DLT among n infused, the posterior is Beta(a + x, b + n - x), and
P(rate > t | x, n) is its survival function at t: the regularized upper incomplete beta ``betaincc``. The
Clopper-Pearson interval's ends are Beta quantiles, the inverse ``betaincinv``. Both are scipy.special ufuncs
(microseconds a call), so nothing here is cached. docs/rules.md (STOPPING_BOUNDARY) has the worked values the tests
check.

scipy.special is imported where it is first used, not with this module: loading it takes about a second, which
every ``safety`` command and every replay would otherwise pay before its first event, and most never reach a
stopping rule or an interval.
"""

from __future__ import annotations


def prob_rate_above(threshold: float, x: int, n: int, prior_a: float = 1.0, prior_b: float = 1.0) -> float:
    """Posterior P(rate > threshold | x of n), prior Beta(prior_a, prior_b)."""
    if not 0 <= x <= n:
        raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")
    from scipy.special import betaincc

    return float(betaincc(prior_a + x, prior_b + n - x, threshold))


def clopper_pearson(x: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Exact (Clopper-Pearson) interval of a binomial proportion x/n; None when n is 0 (nothing observed).

    Lower = Beta(alpha/2; x, n-x+1) quantile (0 when x = 0); upper = Beta(1-alpha/2; x+1, n-x) (1 when x = n).
    """
    if n < 0 or not 0 <= x <= n:
        raise ValueError(f"clopper_pearson: need 0 <= x <= n, got x={x}, n={n}")
    if n == 0:
        return None
    from scipy.special import betaincinv

    alpha = 1.0 - confidence
    low = 0.0 if x == 0 else float(betaincinv(x, n - x + 1, alpha / 2.0))
    high = 1.0 if x == n else float(betaincinv(x + 1, n - x, 1.0 - alpha / 2.0))
    return (low, high)
