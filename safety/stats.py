"""Beta-binomial posterior of the DLT rate, for the Bayesian stopping rule (protocol.md, Stopping rule).

With a Beta(a, b) prior and x subjects with a DLT among n infused, the posterior is Beta(a + x, b + n - x), and
P(rate > t | x, n) = 1 - I_t(a + x, b + n - x), I being the regularized incomplete beta function. The core may not
import scipy (architecture.md, import fence), so I_t is computed here with Lentz's continued fraction (Numerical
Recipes, ``betacf``), accurate to ~1e-14 for the small parameters a trial produces; tests compare with scipy and
with the spec's worked values (2 of 3: 0.916; 1 of 3: 0.652; 14 of 48: 0.484).
"""

from __future__ import annotations

import functools
import math

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 10_000


def _continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's evaluation of the incomplete beta continued fraction (converges fast for x < (a+1)/(a+b+2))."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")  # pragma: no cover


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1 (the Beta(a, b) CDF at x)."""
    if a <= 0 or b <= 0:
        raise ValueError(f"beta parameters must be > 0, got a={a}, b={b}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be within [0, 1], got {x}")
    if x == 0.0 or x == 1.0:
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _continued_fraction(a, b, x) / a
    return 1.0 - front * _continued_fraction(b, a, 1.0 - x) / b


@functools.lru_cache(maxsize=65_536)
def prob_rate_above(threshold: float, x: int, n: int, prior_a: float = 1.0, prior_b: float = 1.0) -> float:
    """Posterior P(rate > threshold | x of n), prior Beta(prior_a, prior_b).

    Memoised: the stopping rule re-walks the study's timeline when a signal arrives out of event-time order and
    evaluates the same (x, n) pairs again; the continued fraction costs tens of microseconds each.
    """
    if not 0 <= x <= n:
        raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")
    return 1.0 - regularized_incomplete_beta(prior_a + x, prior_b + n - x, threshold)


def beta_ppf(q: float, a: float, b: float) -> float:
    """Quantile of Beta(a, b) by bisection on the CDF (monotone, so bisection always converges)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"beta_ppf: probability must be within [0, 1], got {q}")
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if regularized_incomplete_beta(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def clopper_pearson(x: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Exact (Clopper-Pearson) interval of a binomial proportion x/n; None when n is 0 (nothing observed).

    Lower = Beta(alpha/2; x, n-x+1) quantile (0 when x = 0); upper = Beta(1-alpha/2; x+1, n-x) (1 when x = n).
    """
    if n < 0 or not 0 <= x <= n:
        raise ValueError(f"clopper_pearson: need 0 <= x <= n, got x={x}, n={n}")
    if n == 0:
        return None
    alpha = 1.0 - confidence
    low = 0.0 if x == 0 else beta_ppf(alpha / 2.0, x, n - x + 1)
    high = 1.0 if x == n else beta_ppf(1.0 - alpha / 2.0, x + 1, n - x)
    return (low, high)
