"""The toy data sets (two moons, two circles), seeded so that every run sees the same points."""

import numpy as np
from sklearn import datasets

DEFAULT_SEED = 42


def add_bias_column(X):
    """Return ``X`` (n, d) with a column of ones appended last: shape (n, d + 1)."""
    X = np.asarray(X, dtype=float)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def make_moons(n_samples=50, noise=0.1, random_state=DEFAULT_SEED, bias=False):
    """Two interleaving half circles, as in the lesson.

    Returns ``X`` of shape (n_samples, 2), or (n_samples, 3) with ``bias=True``
    (a column of ones appended last), and ``y`` as a column vector of 0/1
    labels, shape (n_samples, 1). The same ``random_state`` gives the same data.
    """
    X, y = datasets.make_moons(n_samples=n_samples, noise=noise, random_state=random_state)
    if bias:
        X = add_bias_column(X)
    return X, y.reshape(-1, 1)


def make_circles(n_samples=200, noise=0.1, factor=0.5, random_state=DEFAULT_SEED, bias=False):
    """A small circle inside a large one (class 1 inside), shaped like ``make_moons``'s data.

    ``factor`` is the inner circle's radius relative to the outer one's (1). Returns ``X``
    (n_samples, 2), or (n_samples, 3) with ``bias=True``, and ``y`` (n_samples, 1).
    """
    X, y = datasets.make_circles(n_samples=n_samples, noise=noise, factor=factor,
                                 random_state=random_state)
    if bias:
        X = add_bias_column(X)
    return X, y.reshape(-1, 1)
