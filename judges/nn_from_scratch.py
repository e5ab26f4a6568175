"""The grader's side of nn_from_scratch's hidden tests: inputs, reference answers, tolerances.

Each function below gives the hidden cases of one test cell (``coursetools.judging``): fixed
edge cases, the same for everyone, and cases drawn from ``rng``, which the grader seeds
from the course's secret, the student and the test. The references are computed here, in
the grader's process, with numpy as it is there; nothing of this file reaches a student's
release or kernel.
"""

import numpy as np

from coursetools.judging import Case, accuracy_at_least, close, hidden_test, pair

EPOCHS, LR = 3000, 0.02  # the notebook's training settings


# --- the reference (equations A-E of the notebook) --------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def add_bias(a):
    return np.concatenate([a, np.ones((a.shape[0], 1))], axis=1)


def feed_forward(Xb, wH, wO):
    hidden = sigmoid(Xb @ wH)
    return hidden, sigmoid(add_bias(hidden) @ wO)


def backprop(wH, wO, out1, out2, yt, Xb, lr):
    error = -(yt / out2 - (1 - yt) / (1 - out2))  # A
    s_out = sigmoid(add_bias(out1) @ wO)
    y_grad = s_out * (1 - s_out) * error  # B
    grad_wO = add_bias(out1).T @ y_grad  # C
    s_hid = sigmoid(Xb @ wH)
    H_grad = s_hid * (1 - s_hid) * (y_grad @ wO[:-1].T)  # D
    grad_wH = Xb.T @ H_grad  # E
    return wH - lr * grad_wH, wO - lr * grad_wO


def summed_loss(wH, wO, Xb, yt):
    _, p = feed_forward(Xb, wH, wO)
    return float((-(yt * np.log(p) + (1 - yt) * np.log(1 - p))).sum())


def numerical_gradient(wH, wO, Xb, yt, step=1e-5):
    """Central differences of the summed loss: an oracle independent of equations A-E."""
    grads = []
    for which in (0, 1):
        w = (wH, wO)[which]
        g = np.zeros_like(w)
        for idx in np.ndindex(*w.shape):
            nudged = [wH.copy(), wO.copy()]
            nudged[which][idx] += step
            plus = summed_loss(nudged[0], nudged[1], Xb, yt)
            nudged[which][idx] -= 2 * step
            minus = summed_loss(nudged[0], nudged[1], Xb, yt)
            g[idx] = (plus - minus) / (2 * step)
        grads.append(g)
    return grads


def predict(Xb, weights):
    return feed_forward(Xb, weights[0], weights[1])[1]


def moons(n, noise, rng):
    """Two interleaving half circles with Gaussian noise (sklearn's make_moons, unshuffled)."""
    outer, inner = n // 2, n - n // 2
    t_out, t_in = np.linspace(0, np.pi, outer), np.linspace(0, np.pi, inner)
    X = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)],
                   np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]])
    y = np.r_[np.zeros(outer), np.ones(inner)].reshape(-1, 1)
    return X + rng.normal(scale=noise, size=X.shape), y


def train(Xb, y, weights, epochs=EPOCHS, lr=LR):
    """Gradient descent with the summed loss, fused for speed (the grader trains once per
    student): the output delta of a sigmoid with the log loss is p - y."""
    wH, wO = (np.array(w, dtype=float) for w in weights)
    hidden_b = np.ones((Xb.shape[0], wH.shape[1] + 1))
    for _ in range(epochs):
        hidden = 1.0 / (1.0 + np.exp(-(Xb @ wH)))
        hidden_b[:, :-1] = hidden
        delta_out = 1.0 / (1.0 + np.exp(-(hidden_b @ wO))) - y
        delta_hidden = hidden * (1.0 - hidden) * (delta_out @ wO[:-1].T)
        wO = wO - lr * (hidden_b.T @ delta_out)
        wH = wH - lr * (Xb.T @ delta_hidden)
    return [wH, wO]


def _learnable_start(source):
    """Moons and starting weights from ``source`` from which the reference learns."""
    for _attempt in range(10):
        X, y = moons(200, 0.1, source)
        Xb = add_bias(X)
        weights = [source.normal(size=(3, 4)), source.normal(size=(5, 1))]
        if _trains(Xb, y)(train(Xb, y, weights)) is None:
            break
    return Xb, y, weights


def _trains(Xb, y):
    return accuracy_at_least(Xb, y, 0.97, predict, [(3, 4), (5, 1)])


def _labels(rng, shape):
    return rng.integers(0, 2, size=shape).astype(float)


def _shape(a):
    return f"of shape {a.shape}"


# --- the hidden tests ------------------------------------------------------------------------


@hidden_test("test_add_bias")
def add_bias_cases(rng):
    inputs = [np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])]
    inputs += [rng.normal(size=shape) * 3.0 for shape in [(4, 3), (1, 5), (7, 1), (50, 2),
                                                          (6, 4)]]
    inputs.append(rng.normal(size=(int(rng.integers(2, 9)), int(rng.integers(2, 6)))))
    return [Case("add_bias", (X,), close(add_bias(X), atol=1e-12), f"X {_shape(X)}", ("X",))
            for X in inputs]


@hidden_test("test_sigmoid")
def sigmoid_cases(rng):
    inputs = [np.array([0.0]), np.array([-10.0, -1.0, 0.0, 1.0, 10.0]),
              np.array([[-30.0, -4.2, -0.37], [0.004, 2.9, 30.0]])]
    inputs += [rng.uniform(-8.0, 8.0, size=shape) for shape in [(3, 4), (7, 1), (2, 3, 2),
                                                                (9,)]]
    return [Case("sigmoid", (x,), close(sigmoid(x), atol=1e-9), f"x {_shape(x)}", ("x",))
            for x in inputs]


def _loss_inputs(rng, fixed_p, low, shapes):
    y = np.array([[1.0], [0.0], [1.0], [0.0], [1.0], [0.0]])
    pairs = [(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.01, 0.99, 0.01, 0.99])),
             (y, np.array(fixed_p).reshape(-1, 1))]
    pairs += [(_labels(rng, shape), rng.uniform(low, 1 - low, size=shape)) for shape in shapes]
    return pairs


@hidden_test("test_log_loss")
def log_loss_cases(rng):
    pairs = _loss_inputs(rng, [1e-3, 1 - 1e-3, 1 - 1e-3, 1e-3, 0.5, 0.2718], 0.01,
                         [(6, 1), (3, 4), (11,)])
    return [Case("log_loss", (y, p), close(-(y * np.log(p) + (1 - y) * np.log(1 - p)),
                                           atol=1e-6, rtol=1e-6),
                 f"y and y_pred {_shape(y)}", ("y", "y_pred")) for y, p in pairs]


@hidden_test("test_sigmoid_der")
def sigmoid_der_cases(rng):
    inputs = [np.array([0.0]), np.array([-3.0, -1.0, 0.0, 0.5, 2.0])]
    inputs += [rng.uniform(-6.0, 6.0, size=shape) for shape in [(3, 4), (6, 1), (2, 5), (8,)]]
    return [Case("sigmoid_der", (x,), close(sigmoid(x) * (1 - sigmoid(x)), atol=1e-9),
                 f"X {_shape(x)}", ("X",)) for x in inputs]


@hidden_test("test_log_loss_der")
def log_loss_der_cases(rng):
    pairs = _loss_inputs(rng, [1e-3, 1 - 1e-3, 1 - 1e-3, 1e-3, 0.5, 0.3141], 0.02,
                         [(7, 1), (3, 4), (10,)])
    return [Case("log_loss_der", (y, p), close(-(y / p - (1 - y) / (1 - p)), atol=1e-6,
                                               rtol=1e-6),
                 f"y and y_pred {_shape(y)}", ("y", "y_pred")) for y, p in pairs]


def _network(rng, n, d, h, scale=1.0):
    Xb = add_bias(rng.normal(size=(n, d)) * 1.5)
    return Xb, rng.normal(size=(d + 1, h)) * scale, rng.normal(size=(h + 1, 1)) * scale


@hidden_test("test_feed_forward")
def feed_forward_cases(rng):
    cases = []
    for n, d, h in [(5, 2, 4), (7, 3, 2), (1, 2, 5), (4, 4, 3), (12, 2, 3), (6, 2, 3)]:
        Xb, wH, wO = _network(rng, n, d, h, scale=1.5)
        out1, out2 = feed_forward(Xb, wH, wO)
        cases.append(Case("feed_forward", (Xb, [wH, wO]),
                          pair(close(out1), close(out2), ("output1", "output2")),
                          f"X {_shape(Xb)}, weights[0] {_shape(wH)}, weights[1] {_shape(wO)}",
                          ("X", "weights")))
    return cases


@hidden_test("test_backprop")
def backprop_cases(rng):
    cases = []
    settings = [(6, 2, 4, 0.1, list, None), (9, 3, 2, 0.05, list, None),
                (1, 2, 3, 1.0, tuple, None), (5, 4, 3, 0.3, list, None),
                (40, 2, 4, 0.02, tuple, None),
                (8, 2, 4, 0.5, list, "numerical"), (4, 3, 2, 2.0, list, "numerical")]
    for n, d, h, lr, container, oracle in settings:
        Xb, wH, wO = _network(rng, n, d, h)
        yt = _labels(rng, (n, 1))
        out1, out2 = feed_forward(Xb, wH, wO)
        if oracle == "numerical":  # new = old - LR * (the gradient of the summed loss)
            grad_wH, grad_wO = numerical_gradient(wH, wO, Xb, yt)
            expected = (wH - lr * grad_wH, wO - lr * grad_wO)
        else:
            expected = backprop(wH, wO, out1, out2, yt, Xb, lr)
        cases.append(Case(
            "backprop", (container([wH, wO]), out1, out2, yt, Xb, lr),
            pair(close(expected[0]), close(expected[1]), ("wH_new", "wO_new")),
            f"n={n}, weights[0] {_shape(wH)}, weights[1] {_shape(wO)}, LR={lr}"
            + (" (against a numerical gradient)" if oracle else ""),
            ("weights", "output1", "output2", "ytrue", "X_input", "LR")))
    return cases


@hidden_test("test_training")
def training_cases(rng):
    """Training from a secret start on moons only the grader has (the visible test trains
    from the notebook's start), judged by the grader's forward pass. A start is used only if
    the reference learns from it."""
    Xb, y, weights = _learnable_start(rng)
    return [Case("train", (Xb, y, weights, EPOCHS, LR), _trains(Xb, y),
                 f"{EPOCHS} epochs at LR = {LR} on 200 secret points", ("X", "y", "weights"),
                 unchanged=False)]
