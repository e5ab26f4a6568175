"""add_bias(X): append a column of ones LAST, (n, d) -> (n, d + 1)."""

from . import CORRECT, WRONG, entry

ENTRIES = (
    # --- correct: other ways to append the ones column
    entry("add_bias_c_", "add_bias", CORRECT, "np.c_ with a flat ones vector", """
        def add_bias(X):
            return np.c_[X, np.ones(X.shape[0])]
    """),
    entry("add_bias_column_stack", "add_bias", CORRECT, "np.column_stack", """
        def add_bias(X):
            return np.column_stack([X, np.ones(len(X))])
    """),
    entry("add_bias_concatenate", "add_bias", CORRECT, "np.concatenate along axis 1", """
        def add_bias(X):
            ones = np.ones((X.shape[0], 1))
            return np.concatenate((X, ones), axis=1)
    """),
    entry("add_bias_append", "add_bias", CORRECT, "np.append with axis=1", """
        def add_bias(X):
            return np.append(X, np.ones((X.shape[0], 1)), axis=1)
    """),
    entry("add_bias_insert_at_end", "add_bias", CORRECT, "np.insert at index d", """
        def add_bias(X):
            return np.insert(X, X.shape[1], 1.0, axis=1)
    """),
    entry("add_bias_ones_like", "add_bias", CORRECT, "hstack with np.ones_like(X[:, :1])", """
        def add_bias(X):
            return np.hstack([X, np.ones_like(X[:, :1])])
    """),
    entry("add_bias_preallocate", "add_bias", CORRECT, "fills a new array of ones", """
        def add_bias(X):
            n, d = X.shape
            out = np.ones((n, d + 1))
            out[:, :d] = X
            return out
    """),
    # --- wrong
    entry("add_bias_ones_first", "add_bias", WRONG,
          "puts the ones column first (the other common convention, not this API's)", """
        def add_bias(X):
            return np.hstack([np.ones((X.shape[0], 1)), X])
    """),
    entry("add_bias_zeros", "add_bias", WRONG, "appends zeros instead of ones", """
        def add_bias(X):
            return np.hstack([X, np.zeros((X.shape[0], 1))])
    """),
    entry("add_bias_returns_x", "add_bias", WRONG, "returns X unchanged (no bias column)", """
        def add_bias(X):
            return X
    """),
    entry("add_bias_overwrites_last_column", "add_bias", WRONG,
          "sets the last column of X to one in place: wrong shape, and mutates the input", """
        def add_bias(X):
            X[:, -1] = 1
            return X
    """),
    entry("add_bias_hardcoded_50_rows", "add_bias", WRONG,
          "hard-codes the 50 samples of the lesson's data set", """
        def add_bias(X):
            return np.hstack([X, np.ones((50, 1))])
    """),
    entry("add_bias_pad", "add_bias", CORRECT, "np.pad with a constant 1 on the right", """
        def add_bias(X):
            return np.pad(X, ((0, 0), (0, 1)), constant_values=1.0)
    """),
)
