"""Helpers for the Neural Network from Scratch notebooks.

- ``nnscratch.data``: the seeded two-moons data set (and two circles, for the playground).
- ``nnscratch.plotting``: the data, a loss curve, a decision boundary.
- ``nnscratch.gradcheck``: numerical gradients to check your backpropagation.
- ``nnscratch.testing``: the checks that the notebook's test cells run.
- ``nnscratch.explore``: the Explore parts (capacity, learning rate, a playground) and
  ``ready()``, which names in one line the function to fill in first.
"""

from nnscratch.data import DEFAULT_SEED, add_bias_column, make_circles, make_moons
from nnscratch.gradcheck import gradient_check, numerical_gradient, rel_error
from nnscratch.plotting import plot_data, plot_decision_boundary, plot_loss

__all__ = [
    "DEFAULT_SEED",
    "add_bias_column",
    "gradient_check",
    "make_circles",
    "make_moons",
    "numerical_gradient",
    "plot_data",
    "plot_decision_boundary",
    "plot_loss",
    "rel_error",
]
