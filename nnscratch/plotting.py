"""Plots of the lesson: the data, a loss curve and a decision boundary.

Each function draws on ``ax`` (a new figure when omitted) and returns the
``Axes``; it works inline in a notebook and headless (Agg) alike.
"""

import matplotlib.pyplot as plt
import numpy as np

CMAP = "coolwarm"


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


def plot_data(X, y, ax=None):
    """Scatter the points of ``X`` (n, 2 or more; first two columns) coloured by ``y`` (n, 1)."""
    ax = _axes(ax)
    X = np.asarray(X)
    ax.scatter(X[:, 0], X[:, 1], c=np.ravel(y), cmap=CMAP, edgecolors="k", linewidths=0.5)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return ax


def plot_loss(losses, ax=None, ylabel="loss"):
    """Plot a loss per epoch (a list or array of numbers)."""
    ax = _axes(ax)
    ax.plot(np.ravel(losses))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    return ax


def decision_grid(lim=3.0, resolution=200):
    """The grid the boundary is drawn on: ``x`` (resolution,) and the points (resolution**2, 2).

    The points run over x1 first, then x2, as in the lesson
    (``[(x1, x2) for x1 in x for x2 in x]``).
    """
    x = np.linspace(-lim, lim, resolution)
    points = np.array([(x1, x2) for x1 in x for x2 in x])
    return x, points


def plot_decision_boundary(predict, X, y, ax=None, lim=3.0, resolution=200, colorbar=True):
    """Colour the plane by ``predict`` and draw the data on top.

    ``predict`` takes points of shape (m, 2), without a bias column, and
    returns m probabilities (any shape with m elements). The 0.5 contour is
    the decision boundary; the colorbar (``colorbar=False``: none, as in a grid of
    small plots) shows the predicted probability.
    """
    ax = _axes(ax)
    filled, _ = draw_probabilities(predict, ax, lim, resolution)
    if colorbar:
        ax.figure.colorbar(filled, ax=ax, label="predicted probability of class 1")
    plot_data(X, y, ax=ax)
    return ax


def draw_probabilities(predict, ax, lim=3.0, resolution=200):
    """Colour the plane by ``predict`` and draw its 0.5 contour (no data, no colorbar):
    returns the two artists, so that a figure kept between redraws can remove them."""
    x, points = decision_grid(lim, resolution)
    Z = np.asarray(predict(points), dtype=float).reshape((len(x), len(x)), order="F")
    filled = ax.contourf(x, x, Z, alpha=0.8, cmap=CMAP)
    return filled, ax.contour(x, x, Z, levels=[0.5], colors="k")
