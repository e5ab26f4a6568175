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
)
