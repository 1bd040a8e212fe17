"""Time to skill: validation loss and truth skill of one fold against wall-clock seconds.

Trains fold 0 of a twin world with the ``demo`` preset under named settings ("before": the demo
preset of the previous release; "after": the current one) one after another in this process,
and after every few epochs scores the model at the held-out test cells against the hidden truth
(monthly r of GPP, NEE, Rh; NEE seasonal-cycle r). Scoring time is not counted. Writes
``OUT/curves.json`` and ``OUT/time_to_skill.png`` (docs/performance.md, "Time to skill").

    python benchmarks/time_to_skill.py WORLD.zarr OUT [--every 2] [--threads 1] [--only after]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from h2cm import runtime
from h2cm.data.cube import load_cells, open_cube
from h2cm.evaluation import views
from h2cm.studies.claims_sim import _truth_daily
from h2cm.studies.common import simulate, skill, to_monthly
from h2cm.training.config import load_config
from h2cm.training.folds import ensure_split, fold_seed, load_fold_data
from h2cm.training.trainer import FoldTrainer

SETTINGS: dict[str, list[str]] = {
    # the demo preset before the time-to-skill work (h2cm 89e16f4, on the new world's 2015-2017)
    "before": [
        "optimizer.lr=0.005",
        "scheduler.name=step",
        "scheduler.warmup_steps=0",
        "train.compile=false",
        "train.spinup_refresh=1",
        "train.validate_every=1",
        "train.chunk_days=365",
        "train.initial_validation=true",
        "data.max_train_cells=96",
        "train.epochs=8",
        "train.patience=10",
    ],
    "after": [],  # the demo preset as it ships
    # a lever measured: 1.5x the training cells on two years instead of three (about the same work per epoch)
    "two-years-192": ["data.end=2016-12-31", "data.max_train_cells=192"],
}
KEYS = ("gpp", "nee", "rh")


def scorer(cube: str, test: np.ndarray, period: tuple[str, str]):
    from h2cm.data.cube import open_truth

    ds = open_cube(cube, dask=False)
    data = load_cells(ds, test, period)
    truth = _truth_daily(open_truth(cube), ds, test, data.time, KEYS)
    tm = {k: to_monthly(v, data) for k, v in truth.items()}
    moy = views.month_of_year(data.months)

    def score(model) -> dict[str, float]:
        sim = simulate(model, data, KEYS)
        m = {k: to_monthly(sim[k], data) for k in KEYS}
        res = {k: skill(m[k], tm[k])["r"] for k in KEYS}
        res["nee_msc"] = skill(views.msc(m["nee"], data.months)[moy], views.msc(tm["nee"], data.months)[moy])["r"]
        return res

    return score


def curve(cube: str, out: Path, name: str, overrides: list[str], every: int, threads: int, epochs: int | None):
    ov = [f"data.cube={cube}", "progress=false", f"threads={threads}", *overrides]
    if epochs:
        ov.append(f"train.epochs={epochs}")
    cfg = load_config("demo", ov)
    runtime.configure(threads=cfg.threads, seed=fold_seed(cfg.seed, 0))
    run = out / name
    split = ensure_split(cfg, run)
    fd = load_fold_data(cfg, 0, run)
    shipped = load_config("demo", [f"data.cube={cube}"]).data  # every setting scored on the preset's period
    score = scorer(cube, np.sort(np.asarray(split.test)), (shipped.start, shipped.end))
    trainer = FoldTrainer(cfg, 0, run / "fold_0", fd.train, fd.val)
    rows, spent, st = [], 0.0, trainer.state
    while st.epoch < cfg.train.epochs and not st.finished:
        t0 = time.perf_counter()
        trainer.run_epoch(t0)
        spent += time.perf_counter() - t0
        if st.epoch % every == 0 or st.finished or st.epoch == cfg.train.epochs:
            val = st.history[-1].get("val_total", float("nan"))
            row = {"setting": name, "epoch": st.epoch, "seconds": round(spent, 1), "val_total": val}
            row.update({k: round(v, 4) for k, v in score(trainer.model).items()})
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for name in dict.fromkeys(r["setting"] for r in rows):
        rs = [r for r in rows if r["setting"] == name]
        t = [r["seconds"] for r in rs]
        axes[0].plot(t, [r["val_total"] for r in rs], "o-", label=name)
        axes[1].plot(t, [r["gpp"] for r in rs], "o-", label=f"{name}: GPP")
        axes[2].plot(t, [r["nee_msc"] for r in rs], "o-", label=f"{name}: NEE seasonal cycle")
        axes[2].plot(t, [r["nee"] for r in rs], "x--", label=f"{name}: NEE monthly")
    axes[0].set_ylabel("validation loss (sum of terms)")
    axes[1].set_ylabel("r against the truth (test cells)")
    axes[2].set_ylabel("r against the truth (test cells)")
    for ax in axes:
        ax.set_xlabel("training seconds (one fold, 1 thread)")
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle("Time to skill: fold 0 of the demo world")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cube")
    p.add_argument("out")
    p.add_argument("--every", type=int, default=2, help="score every N epochs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=None, help="override the settings' epochs")
    p.add_argument("--only", default=None, help="comma list of settings (default all)")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    names = a.only.split(",") if a.only else list(SETTINGS)
    rows = []
    for name in names:
        rows += curve(a.cube, out, name, SETTINGS[name], a.every, a.threads, a.epochs)
    (out / "curves.json").write_text(json.dumps(rows, indent=1) + "\n")
    plot(rows, out / "time_to_skill.png")
    print(f"wrote {out / 'curves.json'} and {out / 'time_to_skill.png'}")


if __name__ == "__main__":
    main()
