"""Helpers for the Neural Network from Scratch notebooks.

- ``nnscratch.data``: the seeded two-moons data set (and two circles, for the playground).
- ``nnscratch.plotting``: the data, a loss curve, a decision boundary.
- ``nnscratch.gradcheck``: numerical gradients to check your backpropagation.
- ``nnscratch.testing``: the checks that the notebook's test cells run.
- ``nnscratch.explore``: the Explore parts (capacity, learning rate, a playground) and
  ``ready()``, which names in one line the function to fill in first.

``from nnscratch import make_moons`` works as usual; each submodule is imported when one of
its names is first used (PEP 562), so that ``import nnscratch.wire`` (the grader's side of
the hidden tests) does not load scikit-learn and Matplotlib, seconds of every grading run.
"""

import importlib

_SUBMODULE_OF = {
    "DEFAULT_SEED": "data", "add_bias_column": "data", "make_circles": "data",
    "make_moons": "data",
    "gradient_check": "gradcheck", "numerical_gradient": "gradcheck", "rel_error": "gradcheck",
    "plot_data": "plotting", "plot_decision_boundary": "plotting", "plot_loss": "plotting",
}
__all__ = sorted(_SUBMODULE_OF)


def __getattr__(name):
    if name not in _SUBMODULE_OF:
        raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nnscratch.{_SUBMODULE_OF[name]}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
