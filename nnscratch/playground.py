"""The playground of the notebook's last Explore part: sliders for the hidden units, the
learning rate and the epochs, and a data set to choose; each change retrains a network with
the student's functions and redraws its decision boundary and its loss curve.

A redraw must feel live (the course's budget: 1 s for 20 hidden units, 3000 epochs and 200
points), and the student's own functions take most of that. So the playground does only
what a change needs:

- each setting (data set, hidden units, learning rate, and the functions themselves) keeps
  its training run: the weights every ``CHECKPOINT`` epochs and the loss of every epoch.
  More epochs continue from the last checkpoint; fewer, or a setting seen before, need no
  training. Full-batch gradient descent is deterministic, so a continued run has the very
  weights a new one would;
- one figure is kept and only its data are replaced: laying out the axes, ticks and text
  of a new figure costs twice as much as drawing the data.
"""

import io
import time
from collections import OrderedDict

import numpy as np

from nnscratch.data import DEFAULT_SEED, make_circles, make_moons
from nnscratch.explore import (
    TRAINING,
    NotReady,
    accuracy,
    culprit,
    init_weights,
    log_scale,
    one_line,
    predictor,
    quiet,
    train,
    training_functions,
)
from nnscratch.plotting import draw_probabilities, plot_data

DATA_SETS = {"moons": make_moons, "circles": make_circles}
PLAYGROUND_RATES = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
CHECKPOINT = 100  # the epochs slider's step: each value it offers is a checkpoint
KEPT_RUNS = 24  # training runs kept (a few KB each), the least recently used dropped
LIM = 3.0  # the plane drawn, as in the notebook's plots


def _copy(weights):
    return [np.array(w, dtype=float, copy=True) for w in weights]


class TrainingRun:
    """One network trained with one setting, kept to be continued or looked back at.

    Weights are copied in and out of the checkpoints, so a ``backprop`` that changes its
    arguments in place cannot change what is kept.
    """

    def __init__(self, functions, X, y, weights, lr):
        self.functions, self.X, self.y, self.lr = functions, X, y, lr
        self.checkpoints = {0: _copy(weights)}
        self.losses = np.empty(0)

    def at(self, epochs):
        """``(weights, losses)`` after ``epochs`` epochs; trains only the epochs not yet
        trained from the last checkpoint before them."""
        start = max(e for e in self.checkpoints if e <= epochs)
        weights = _copy(self.checkpoints[start])
        while start < epochs:
            step = min(CHECKPOINT - start % CHECKPOINT, epochs - start)
            weights, losses = train(self.functions, self.X, self.y, weights, step, self.lr)
            if start + step > len(self.losses):  # checkpoints never lie beyond the losses
                self.losses = np.concatenate([self.losses[:start], losses])
            start += step
            if start % CHECKPOINT == 0:
                self.checkpoints[start] = _copy(weights)
        return weights, self.losses[:epochs]


class TrainingRuns:
    """The training runs of the settings seen so far, by setting."""

    def __init__(self, kept=KEPT_RUNS):
        self.kept, self.runs = kept, OrderedDict()

    def get(self, functions, data, hidden, lr, seed, n_samples):
        # the function objects are part of the key: a function redefined is a new run
        key = (tuple(functions[name] for name in TRAINING), data, hidden, lr, seed, n_samples)
        run = self.runs.pop(key, None)
        if run is None:
            X, y = DATA_SETS[data](n_samples=n_samples, noise=0.1, random_state=seed)
            run = TrainingRun(functions, functions["add_bias"](X), y,
                              init_weights(hidden, seed), lr)
        self.runs[key] = run
        while len(self.runs) > self.kept:
            self.runs.popitem(last=False)
        return run


class Canvas:
    """The playground's figure, made once: each redraw replaces its data (the boundary, the
    points, the loss curve, the titles) and renders it to PNG bytes."""

    def __init__(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(10, 3.8), dpi=72)  # no pyplot: nothing shown by itself
        FigureCanvasAgg(self.figure)
        self.left, self.right = self.figure.subplots(1, 2)
        self.right.set_xlabel("epoch")
        self.right.set_ylabel("summed log loss")
        log_scale(self.right)
        (self.curve,) = self.right.plot([], [])
        self.figure.subplots_adjust(left=0.06, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
        self.surface, self.points, self.shown = (), None, None
        self.figure.savefig(io.BytesIO(), format="png")  # fonts and layout: once, here

    def render(self, predict, X, y, losses, left_title, right_title, resolution):
        for artist in self.surface:
            artist.remove()
        with quiet():
            self.surface = draw_probabilities(predict, self.left, LIM, resolution)
        if self.shown is not X:
            if self.points is not None:
                self.points.remove()
            plot_data(X, y, ax=self.left)
            self.points, self.shown = self.left.collections[-1], X
            self.points.set_zorder(3)  # above the boundaries drawn after them
        self.left.set(xlim=(-LIM, LIM), ylim=(-LIM, LIM), xlabel="", ylabel="")
        self.left.set_title(left_title, fontsize=10)
        finite = np.where(np.isfinite(losses), losses, np.nan)
        self.curve.set_data(np.arange(len(finite)), finite)
        positive = finite[finite > 0]
        self.right.set_xlim(0, max(len(finite) - 1, 1))
        if positive.size:
            low, high = float(np.min(positive)), float(np.max(positive))
            self.right.set_ylim(low / 1.2, high * 1.2)
        self.right.set_title(right_title, fontsize=10)
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()


def playground_figure(functions, data="moons", hidden=4, lr=0.02, epochs=3000,
                      seed=DEFAULT_SEED, n_samples=200, resolution=60, runs=None, canvas=None):
    """Train a network with the student's ``functions`` (continuing a run of ``runs`` when
    there is one) and draw its decision boundary and loss curve on ``canvas``: returns
    ``(png bytes, summary line)``."""
    runs = runs if runs is not None else TrainingRuns()
    canvas = canvas if canvas is not None else Canvas()
    started = time.perf_counter()
    run = runs.get(functions, data, hidden, lr, seed, n_samples)
    weights, losses = run.at(epochs)
    trained = time.perf_counter() - started
    acc = accuracy(functions, weights, run.X, run.y)
    png = canvas.render(
        predictor(functions, weights), run.X, run.y, losses,
        f"{data}: {hidden} hidden unit{'s' * (hidden > 1)}, training accuracy {acc:.1%}",
        f"LR = {lr:g}, {epochs} epochs", resolution)
    drawn = time.perf_counter() - started - trained
    summary = (f"{data}, {hidden} hidden units, LR = {lr:g}, {epochs} epochs: training accuracy "
               f"{acc:.1%} (trained in {trained:.2f} s, drawn in {drawn:.2f} s)")
    return png, summary


class Playground:
    """Sliders for the number of hidden units, the learning rate and the epochs, and a data
    set to choose; every change retrains a network with the student's functions (looked up
    in ``namespace`` at that moment, so a function you fix is used at once) and redraws.

    Nothing is trained when it is created, only when a control changes (or ``redraw()``
    is called): run where no one moves a slider, it costs building the controls and the
    figure (and while nbgrader grades the notebook, ``explore.playground`` makes none).
    """

    def __init__(self, namespace, hidden=4, lr=0.02, epochs=3000, data="moons"):
        import ipywidgets as widgets

        self.namespace = namespace
        style = {"description_width": "110px"}
        layout = widgets.Layout(width="420px")
        self.hidden = widgets.IntSlider(value=hidden, min=1, max=50, step=1,
                                        description="hidden units", continuous_update=False,
                                        style=style, layout=layout)
        self.lr = widgets.SelectionSlider(options=list(PLAYGROUND_RATES), value=lr,
                                          description="learning rate",
                                          continuous_update=False, style=style, layout=layout)
        self.epochs = widgets.IntSlider(value=epochs, min=CHECKPOINT, max=5000,
                                        step=CHECKPOINT, description="epochs",
                                        continuous_update=False, style=style, layout=layout)
        self.data = widgets.Dropdown(options=list(DATA_SETS), value=data, description="data",
                                     style=style)
        self.status = widgets.HTML(
            "Move a slider or choose a data set: the network is trained with your functions "
            "and drawn here.")
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="720px"))
        for control in (self.hidden, self.lr, self.epochs, self.data):
            control.observe(self._changed, names="value")
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.hidden, self.lr, self.epochs]), self.data]),
            self.status, self.image])
        self.widget.add_class("nnscratch-playground")
        self.canvas = Canvas()  # its first drawing costs a third of a second: not in a redraw
        self.redraws = 0
        self.seconds = None
        self.runs = TrainingRuns()

    def settings(self):
        return {"data": self.data.value, "hidden": self.hidden.value, "lr": self.lr.value,
                "epochs": self.epochs.value}

    def _changed(self, change=None):
        self.redraw()

    def redraw(self):
        """Train with the current settings and show the result (or one line saying which
        function to fill in first); returns the seconds it took."""
        started = time.perf_counter()
        self.status.value = "training..."
        try:
            functions = training_functions(self.namespace)
            png, summary = playground_figure(functions, **self.settings(), runs=self.runs,
                                             canvas=self.canvas)
        except NotReady as exc:
            self.status.value = str(exc)
            return None
        except Exception as exc:  # noqa: BLE001 - show it in one line, keep the controls
            self.status.value = (f"{culprit(exc, 'your network')} failed while training "
                                 f"({one_line(exc)}): check that its test cells pass.")
            return None
        self.image.value = png
        self.seconds = time.perf_counter() - started
        self.redraws += 1
        self.status.value = f"{summary}; {self.seconds:.2f} s in all"
        return self.seconds

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
