"""Numerical gradients (central differences) to check a backpropagation, CS231n style."""

import numpy as np


def rel_error(x, y):
    """Largest relative error between two arrays: 0 for equal, about 1 for unrelated."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numerical_gradient(loss, weights, h=1e-5):
    """Gradient of ``loss(weights)`` (a number) with respect to each matrix in ``weights``.

    ``weights`` is a list of arrays; each entry is nudged by +h and -h in turn,
    so the result is a list of arrays of the same shapes. ``weights`` is left
    as it was.
    """
    grads = []
    for i, w in enumerate(weights):
        w = np.array(w, dtype=float)
        grad = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            nudged = [np.array(m, dtype=float) for m in weights]
            nudged[i][index] = w[index] + h
            plus = float(loss(nudged))
            nudged[i][index] = w[index] - h
            minus = float(loss(nudged))
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def gradient_check(loss, weights, analytic, h=1e-5, tolerance=1e-6, verbose=True):
    """Compare ``analytic`` gradients with numerical ones; return the relative error per matrix.

    ``analytic`` is a list of arrays shaped like ``weights``. A relative error
    below ``tolerance`` (default 1e-6) means the two agree; around 1 means the
    analytic gradient is wrong (or has the opposite sign).
    """
    if len(analytic) != len(weights):
        raise ValueError(f"expected {len(weights)} gradients, got {len(analytic)}")
    numeric = numerical_gradient(loss, weights, h)
    errors = []
    for i, (a, n) in enumerate(zip(analytic, numeric, strict=True)):
        a = np.asarray(a, dtype=float)
        if a.shape != n.shape:
            raise ValueError(f"gradient {i} has shape {a.shape}, its weights have {n.shape}")
        errors.append(rel_error(a, n))
    if verbose:
        for i, error in enumerate(errors):
            verdict = "OK" if error < tolerance else "MISMATCH: check this layer's gradient"
            print(f"weights[{i}] {np.shape(weights[i])}: max relative error {error:.2e}  {verdict}")
    return errors
