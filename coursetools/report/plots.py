"""The plots of the class report, drawn headless (Agg) to PNG files.

Each function saves its figure to ``path`` and returns it (closed: its axes can still be
read, which is how the tests check what was drawn without looking at pixels).
"""


def _counted(scored, ungraded):
    """ "5 students" or "5 students (2 could not be graded)": what the plot is over."""
    text = f"{scored} student{'' if scored == 1 else 's'}"
    return f"{text} ({ungraded} could not be graded)" if ungraded else text


def plot_histogram(scores, max_score, path, ungraded=0):
    """Histogram of ``scores``; ``ungraded``: how many students have no score (said in the
    title, so that the bars are not read as the whole class)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    top = max(max_score, max(scores, default=0.0), 1.0)
    if top <= 40:  # one bar per point, centred on it
        bins = [k - 0.5 for k in range(int(top) + 2)]
        ax.set_xticks(range(int(top) + 1) if top <= 20 else range(0, int(top) + 1, 5))
    else:
        bins = [top * k / 20 for k in range(21)]
    if scores:
        ax.hist(scores, bins=bins, color="#4c72b0", edgecolor="white")
    else:
        ax.text(0.5, 0.5, "no scored submission", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title(f"Grades of {_counted(len(scores), ungraded)}")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return fig


def plot_pass_rates(rates, path):
    """One bar per test, in the order of ``rates`` from top to bottom (the report passes
    them hardest first, the order of its table)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [grade_id for (_, grade_id) in rates]
    values = [100.0 * r["passed"] / r["count"] if r["count"] else 0.0 for r in rates.values()]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.35 * max(len(labels), 1)))
    if labels:
        colors = ["#c44e52" if v < 50 else "#dd8452" if v < 80 else "#55a868" for v in values]
        ax.barh(range(len(labels)), values, color=colors)
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()  # barh draws the first bar at the bottom; the table starts at the top
        for i, v in enumerate(values):
            ax.text(min(v + 1, 92), i, f"{v:.0f}%", va="center", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no test results", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(0, 100)
    ax.set_xlabel("scored submissions passing (%)")
    ax.set_title("Pass rate per test")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return fig
