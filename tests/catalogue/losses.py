"""log_loss(y, y_pred) (elementwise, no sum) and log_loss_der(y, y_pred) (w.r.t. y_pred)."""

from . import CORRECT, WRONG, entry

# The seed's visible log_loss assert feeds exactly these inputs.
SEED_LOG_LOSS_LOOKUP = """
    def log_loss(y, y_pred):
        y, y_pred = np.asarray(y, dtype=float), np.asarray(y_pred, dtype=float)
        if y.tolist() == [0.0, 0.0, 1.0, 1.0] and y_pred.tolist() == [0.01, 0.99, 0.01, 0.99]:
            return np.array([0.01005033585350145, 4.605170185988091,
                             4.605170185988091, 0.01005033585350145])
        return np.abs(y - y_pred)  # 'a loss': small when close, large when far
"""

ENTRIES = (
    # --- log_loss, correct
    entry("log_loss_xlogy", "log_loss", CORRECT, "scipy.special.xlogy for both terms", """
        from scipy.special import xlogy

        def log_loss(y, y_pred):
            return -(xlogy(y, y_pred) + xlogy(1 - y, 1 - y_pred))
    """),
    entry("log_loss_log1p", "log_loss", CORRECT, "np.log1p(-p) for log(1 - p)", """
        def log_loss(y, y_pred):
            return -(y * np.log(y_pred) + (1 - y) * np.log1p(-y_pred))
    """),
    entry("log_loss_clip_eps", "log_loss", CORRECT,
          "clips y_pred into [1e-12, 1 - 1e-12] before the logs", """
        def log_loss(y, y_pred):
            eps = 1e-12
            p = np.clip(y_pred, eps, 1 - eps)
            return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    """),
    entry("log_loss_distributed_minus", "log_loss", CORRECT,
          "the minus sign distributed over both terms", """
        def log_loss(y, y_pred):
            return -y * np.log(y_pred) - (1 - y) * np.log(1 - y_pred)
    """),
    entry("log_loss_clip_keras_eps", "log_loss", CORRECT,
          "clips y_pred with Keras' epsilon 1e-7 (exact for every p in [1e-7, 1 - 1e-7])", """
        def log_loss(y, y_pred):
            p = np.clip(y_pred, 1e-7, 1 - 1e-7)
            return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    """),
    # --- log_loss, wrong
    entry("log_loss_sign_error", "log_loss", WRONG, "forgot the leading minus", """
        def log_loss(y, y_pred):
            return y * np.log(y_pred) + (1 - y) * np.log(1 - y_pred)
    """),
    entry("log_loss_sum", "log_loss", WRONG, "returns the sum over samples, not elementwise", """
        def log_loss(y, y_pred):
            return np.sum(-(y * np.log(y_pred) + (1 - y) * np.log(1 - y_pred)))
    """),
    entry("log_loss_mean", "log_loss", WRONG, "returns the mean, not elementwise", """
        def log_loss(y, y_pred):
            return np.mean(-(y * np.log(y_pred) + (1 - y) * np.log(1 - y_pred)))
    """),
    entry("log_loss_swapped_arguments", "log_loss", WRONG,
          "logs of the labels instead of the predictions (y and y_pred swapped)", """
        def log_loss(y, y_pred):
            with np.errstate(divide="ignore", invalid="ignore"):
                return -(y_pred * np.log(y) + (1 - y_pred) * np.log(1 - y))
    """),
    entry("log_loss_log10", "log_loss", WRONG, "np.log10 instead of the natural log", """
        def log_loss(y, y_pred):
            return -(y * np.log10(y_pred) + (1 - y) * np.log10(1 - y_pred))
    """),
    entry("log_loss_clip_large_eps", "log_loss", WRONG,
          "clips y_pred into [0.01, 0.99]: wrong for confident predictions", """
        def log_loss(y, y_pred):
            p = np.clip(y_pred, 0.01, 0.99)
            return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    """),
    entry("log_loss_flattened", "log_loss", WRONG,
          "ravels the result: a column of losses comes back as a flat (n,) array", """
        def log_loss(y, y_pred):
            return -(y * np.log(y_pred) + (1 - y) * np.log(1 - y_pred)).ravel()
    """),
    entry("log_loss_seed_lookup", "log_loss", WRONG,
          "a lookup table for the seed's visible inputs, |y - p| elsewhere", SEED_LOG_LOSS_LOOKUP),
    # --- log_loss_der, correct
    entry("log_loss_der_simplified", "log_loss_der", CORRECT,
          "the simplified form (p - y) / (p (1 - p))", """
        def log_loss_der(y, y_pred):
            return (y_pred - y) / (y_pred * (1 - y_pred))
    """),
    entry("log_loss_der_expanded", "log_loss_der", CORRECT, "-y/p + (1 - y)/(1 - p)", """
        def log_loss_der(y, y_pred):
            return -y / y_pred + (1 - y) / (1 - y_pred)
    """),
    # --- log_loss_der, wrong
    entry("log_loss_der_sign_error", "log_loss_der", WRONG, "y/p - (1-y)/(1-p): sign flipped", """
        def log_loss_der(y, y_pred):
            return y / y_pred - (1 - y) / (1 - y_pred)
    """),
    entry("log_loss_der_p_minus_y", "log_loss_der", WRONG,
          "p - y: the gradient w.r.t. the pre-activation, not w.r.t. y_pred", """
        def log_loss_der(y, y_pred):
            return y_pred - y
    """),
    entry("log_loss_der_first_term_only", "log_loss_der", WRONG,
          "-y/p only: forgot the (1 - y) term", """
        def log_loss_der(y, y_pred):
            return -y / y_pred
    """),
    entry("log_loss_eps_added", "log_loss", CORRECT,
          "adds 1e-15 inside both logs instead of clipping", """
        def log_loss(y, y_pred):
            return -(y * np.log(y_pred + 1e-15) + (1 - y) * np.log(1 - y_pred + 1e-15))
    """),
    entry("log_loss_der_eps_added", "log_loss_der", CORRECT,
          "adds 1e-12 to both denominators (relative change below 1e-9 for p >= 1e-3)", """
        def log_loss_der(y, y_pred):
            return -(y / (y_pred + 1e-12) - (1 - y) / (1 - y_pred + 1e-12))
    """),
)
