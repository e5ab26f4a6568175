"""The plots of the class report, drawn headless (Agg) to PNG files."""

def plot_histogram(scores, max_score, path):
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
        ax.text(0.5, 0.5, "no graded submission", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title(f"Grades of {len(scores)} graded submission(s)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_pass_rates(rates, path):
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
        ax.invert_yaxis()
        for i, v in enumerate(values):
            ax.text(min(v + 1, 92), i, f"{v:.0f}%", va="center", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no test results", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(0, 100)
    ax.set_xlabel("graded submissions passing (%)")
    ax.set_title("Pass rate per test")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
