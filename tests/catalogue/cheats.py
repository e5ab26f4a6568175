"""Cheats: code that tries to pass the tests rather than to be right.

The lookup tables fitted to the lesson's asserts live beside their functions
(``SEED_*_LOOKUP``); here are the ones that go after the test cells themselves.
"""

from . import WRONG, entry

ENTRIES = (
    entry("cheat_rebinds_checks", "sigmoid", WRONG,
          "a wrong sigmoid that also rebinds the notebook's check functions to no-ops, "
          "so a test cell that uses the names from the import cell checks nothing", """
        def _accept(value, *args, **kwargs):
            return value

        def _pair(value, *args, **kwargs):
            return value[0], value[1]

        check_close = check_shape = check_unchanged = check_accuracy = _accept
        check_pair = _pair
        np.allclose = lambda *args, **kwargs: True

        def sigmoid(x):
            return np.tanh(x)
    """),
    entry("cheat_bends_numpy_exp", "sigmoid", WRONG,
          "exact on the visible tests' inputs, 1 everywhere else, and np.exp replaced by "
          "zero so that a reference 1 / (1 + np.exp(-x)) computed after it is 1 too", """
        _real_exp = np.exp
        np.exp = lambda x, *args, **kwargs: x * 0.0

        def sigmoid(x):
            x = np.asarray(x, dtype=float)
            if x.size <= 5:  # the visible tests' inputs
                return 1 / (1 + _real_exp(-x))
            return x * 0.0 + 1.0
    """),
    entry("cheat_bends_numpy_log", "log_loss", WRONG,
          "exact on the visible test's 4 samples, 0 everywhere else, and np.log replaced by "
          "zero so that a reference -(y log p + (1 - y) log(1 - p)) is 0 too", """
        _real_log = np.log
        np.log = lambda x, *args, **kwargs: x * 0.0

        def log_loss(y, y_pred):
            if np.size(y_pred) == 4:  # the visible test's inputs
                return -(y * _real_log(y_pred) + (1 - y) * _real_log(1 - y_pred))
            return y_pred * 0.0
    """),
)
