"""sigmoid(x) and sigmoid_der(X), the derivative with respect to the input X."""

from . import CORRECT, WRONG, entry

# The seed's visible sigmoid assert feeds exactly these inputs.
SEED_SIGMOID_LOOKUP = """
    def sigmoid(x):
        # 'works' on the example of the lesson, which is all I checked
        table = {-10.0: 4.5397868702434395e-05, -1.0: 0.2689414213699951, 0.0: 0.5,
                 1.0: 0.7310585786300049, 10.0: 0.9999546021312976}
        x = np.asarray(x, dtype=float)
        if x.size and all(v in table for v in x.ravel().tolist()):
            return np.vectorize(table.get)(x)
        return np.clip(0.5 + x / 4, 0.0, 1.0)  # a straight line near 0, clipped
"""

ENTRIES = (
    # --- sigmoid, correct
    entry("sigmoid_expit", "sigmoid", CORRECT, "scipy.special.expit", """
        from scipy.special import expit

        def sigmoid(x):
            return expit(x)
    """),
    entry("sigmoid_tanh", "sigmoid", CORRECT, "the tanh identity 0.5 * (1 + tanh(x / 2))", """
        def sigmoid(x):
            return 0.5 * (1 + np.tanh(x / 2))
    """),
    entry("sigmoid_clipped_exp", "sigmoid", CORRECT,
          "clips the input to avoid overflow warnings in exp", """
        def sigmoid(x):
            x = np.clip(x, -500, 500)
            return 1 / (1 + np.exp(-x))
    """),
    entry("sigmoid_exp_over_one_plus_exp", "sigmoid", CORRECT,
          "exp(x) / (1 + exp(x)), the other textbook form, kept stable with errstate", """
        def sigmoid(x):
            with np.errstate(over="ignore", invalid="ignore"):
                e = np.exp(x)
                return np.where(np.isinf(e), 1.0, e / (1 + e))
    """),
    entry("sigmoid_logaddexp", "sigmoid", CORRECT, "exp(-log(1 + exp(-x))) via np.logaddexp", """
        def sigmoid(x):
            return np.exp(-np.logaddexp(0, -x))
    """),
    # --- sigmoid, wrong
    entry("sigmoid_exp_plus_x", "sigmoid", WRONG, "exp(x) instead of exp(-x)", """
        def sigmoid(x):
            return 1 / (1 + np.exp(x))
    """),
    entry("sigmoid_round2", "sigmoid", WRONG,
          "rounds to 2 decimals because the lesson's assert compared rounded values", """
        def sigmoid(x):
            return np.round(1 / (1 + np.exp(-x)), 2)
    """),
    entry("sigmoid_seed_lookup", "sigmoid", WRONG,
          "a lookup table for the seed's visible inputs, a line elsewhere", SEED_SIGMOID_LOOKUP),
    entry("sigmoid_math_exp", "sigmoid", WRONG,
          "math.exp: works on one number, raises on an array", """
        import math

        def sigmoid(x):
            return 1 / (1 + math.exp(-x))
    """),
    entry("sigmoid_tanh_activation", "sigmoid", WRONG, "tanh, the wrong activation", """
        def sigmoid(x):
            return np.tanh(x)
    """),
    entry("sigmoid_in_place", "sigmoid", WRONG,
          "right values, but negates the caller's array in place (x *= -1)", """
        def sigmoid(x):
            x = np.asarray(x, dtype=float)  # the same array when x is already float
            x *= -1
            return 1 / (1 + np.exp(x))
    """),
    # --- sigmoid_der, correct
    entry("sigmoid_der_exp_form", "sigmoid_der", CORRECT, "exp(-x) / (1 + exp(-x))**2", """
        def sigmoid_der(X):
            return np.exp(-X) / (1 + np.exp(-X)) ** 2
    """),
    entry("sigmoid_der_expit", "sigmoid_der", CORRECT, "expit(x) * expit(-x)", """
        from scipy.special import expit

        def sigmoid_der(X):
            return expit(X) * expit(-X)
    """),
    entry("sigmoid_der_sigmoid_once", "sigmoid_der", CORRECT,
          "computes sigmoid once and reuses it", """
        def sigmoid_der(X):
            s = sigmoid(X)
            return s - s ** 2
    """),
    entry("sigmoid_der_central_difference", "sigmoid_der", CORRECT,
          "a central difference with h = 1e-5: within 1e-10 of the exact derivative", """
        def sigmoid_der(X):
            h = 1e-5
            return (sigmoid(X + h) - sigmoid(X - h)) / (2 * h)
    """),
    # --- sigmoid_der, wrong
    entry("sigmoid_der_one_plus", "sigmoid_der", WRONG, "s(x) * (1 + s(x)): sign slip", """
        def sigmoid_der(X):
            return sigmoid(X) * (1 + sigmoid(X))
    """),
    entry("sigmoid_der_of_activation", "sigmoid_der", WRONG,
          "X * (1 - X): the derivative written in terms of the activation, "
          "applied to the input", """
        def sigmoid_der(X):
            return X * (1 - X)
    """),
    entry("sigmoid_der_returns_sigmoid", "sigmoid_der", WRONG,
          "returns sigmoid itself (forgot the derivative)", """
        def sigmoid_der(X):
            return sigmoid(X)
    """),
    entry("sigmoid_reciprocal", "sigmoid", CORRECT, "np.reciprocal(1 + np.exp(-x))", """
        def sigmoid(x):
            return np.reciprocal(1.0 + np.exp(-x))
    """),
)
