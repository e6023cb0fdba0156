"""The optimizer study: train SiamFC with several optimizers on the same data, epochs and seed; compare them.

    python bench/optimizer_study.py --data PACK_OR_FOLDERS... --val ../shared/data/sot/val --out runs/study \
        [--curve-val FOLDER] [--optimizers momentum adam adabound adam_then_sgd] [--parallel 4] [--device auto] \
        [--doc docs] [--eval-only] [key=value ...]

Each optimizer trains in its own process (``--parallel`` at a time: on one GPU small runs share it well) with the
common ``key=value`` overrides plus its own learning rates (OPTIMIZER_SETTINGS). ``--curve-val`` is tracked every
``val_every`` epochs during training (the val-AUC curves); ``--val`` is tracked once with each final model (the
table). Writes docs/optimizers.md, docs/optimizers_loss.png and docs/optimizers_val.png.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Adaptive methods need ~100x smaller steps than SGD with momentum; each decays by the same factor (lr/lr_final).
OPTIMIZER_SETTINGS = {
    "momentum": {"lr": 1e-2, "lr_final": 5e-5},
    "nesterov": {"lr": 1e-2, "lr_final": 5e-5},
    "adam": {"lr": 1e-4, "lr_final": 5e-7},
    "adabound": {"lr": 1e-4, "lr_final": 5e-7},
    "swats": {"lr": 1e-4, "lr_final": 5e-7},
    "adam_then_sgd": {"lr": 1e-4, "lr_final": 5e-7},  # switch_epoch: a quarter of the epochs (set below)
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--out", required=True, help="runs go to OUT/<optimizer>")
    parser.add_argument("--val", help="folder of sequences tracked with each final model (the table)")
    parser.add_argument("--curve-val", help="folder tracked during training every val_every epochs (curves)")
    parser.add_argument("--optimizers", nargs="+", default=["momentum", "adam", "adabound", "adam_then_sgd"])
    parser.add_argument("--parallel", type=int, default=1, help="trainings run at the same time")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--doc", default=str(ROOT / "docs"), help="folder for optimizers.md and the PNGs")
    parser.add_argument("--eval-only", action="store_true", help="skip training; evaluate OUT's runs, write the doc")
    args, overrides = parser.parse_known_args()
    bad = [o for o in overrides if "=" not in o]
    if bad:
        parser.error(f"unrecognized arguments: {' '.join(bad)}")
    unknown = [o for o in args.optimizers if o not in OPTIMIZER_SETTINGS]
    if unknown:
        parser.error(f"no study settings for {', '.join(unknown)}; choose from {', '.join(OPTIMIZER_SETTINGS)}")
    return args, overrides


def run_overrides(name: str, common: list[str], curve_val: str | None) -> list[str]:
    """The common overrides, then the optimizer's own learning rates (which win)."""
    merged = dict(item.split("=", 1) for item in common)
    merged.update({key: str(value) for key, value in OPTIMIZER_SETTINGS[name].items()})
    merged["optimizer"] = name
    if name == "adam_then_sgd":
        merged["switch_epoch"] = str(max(1, int(merged.get("epochs", 25)) // 4))
    if curve_val:
        merged.setdefault("val_data", curve_val)
        merged.setdefault("val_every", "2")
    return [f"{key}={value}" for key, value in merged.items()]


def train_all(args, overrides) -> None:
    threads = max(1, (os.cpu_count() or 2) // max(1, args.parallel))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": f"{ROOT}{os.pathsep}"
           f"{os.environ.get('PYTHONPATH', '')}"}
    pending = list(args.optimizers)
    running: list[tuple[str, subprocess.Popen, float]] = []
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            run_dir = Path(args.out) / name
            run_dir.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, "-m", "twintrack", "train", "siamfc", "--data", *args.data, "--out",
                       str(run_dir), "--device", args.device, *run_overrides(name, overrides, args.curve_val)]
            log = open(run_dir / "train.log", "w")
            print(f"[study] start {name}: {' '.join(command[3:])}", flush=True)
            running.append((name, subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT),
                            time.perf_counter()))
        time.sleep(2)
        for item in list(running):
            name, process, started = item
            if process.poll() is not None:
                running.remove(item)
                status = "done" if process.returncode == 0 else f"FAILED ({process.returncode})"
                print(f"[study] {name} {status} in {time.perf_counter() - started:.0f} s", flush=True)


def read_rows(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.csv"
    return list(csv.DictReader(open(path))) if path.exists() else []


def column(rows, key) -> list[float]:
    return [float(r[key]) if r.get(key) not in (None, "") else np.nan for r in rows]


def evaluate(weights: Path, val: str, device: str) -> tuple[float, float]:
    from twintrack import create_tracker
    from twintrack.eval.runner import run_sequence
    from twintrack.eval.sequences import load_folder_sequences

    tracker = create_tracker("siamfc", weights=str(weights), device=device)
    scores = [run_sequence(tracker, seq).score for seq in load_folder_sequences(val)]
    return float(np.mean([s.success_auc for s in scores])), float(np.mean([s.precision for s in scores]))


def plot(results: dict, key: str, ylabel: str, out_png: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, rows in results.items():
        epochs, values = column(rows, "epoch"), column(rows, key)
        keep = ~np.isnan(values)
        axes.plot(np.array(epochs)[keep], np.array(values)[keep], marker="o" if key != "loss" else None,
                  markersize=3, label=name)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(out_png, dpi=110)


def write_doc(args, overrides, table: list[dict], results: dict) -> Path:
    doc = Path(args.doc)
    doc.mkdir(parents=True, exist_ok=True)
    plot(results, "loss", "train loss (epoch mean)", doc / "optimizers_loss.png")
    plot(results, "val_auc", "val AUC (curve set)", doc / "optimizers_val.png")
    first = next(iter(results.values()))
    pairs = int(first[-1]["step"]) * int(dict(o.split("=", 1) for o in overrides).get("batch_size", 16)) if first \
        else 0
    lines = [
        "# Optimizer study: SiamFC on the training split",
        "",
        "Produced by one command (the figures below came from it; see the notes for where it ran):",
        "",
        "    python bench/optimizer_study.py " + " ".join(sys.argv[1:]),
        "",
        f"Same data, seed, epochs and schedule shape for every optimizer ({pairs:,} training pairs each, common "
        f"settings `{' '.join(overrides)}`); learning rates per optimizer in `OPTIMIZER_SETTINGS` of "
        "bench/optimizer_study.py. `val AUC` / `val prec` track every sequence of the --val folder once with the "
        "final weights (OTB one-pass, success AUC and precision at 20 px); `curve AUC` is the last point of the "
        "val-AUC curve, tracked during training on the --curve-val folder.",
        "",
        "| optimizer | lr -> lr_final | epochs | final train loss | min train loss | val AUC | val prec | curve AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        lines.append(f"| {row['optimizer']} | {row['lr']} | {row['epochs']} | {row['final_loss']:.4f} | "
                     f"{row['min_loss']:.4f} | {row['val_auc']:.3f} | {row['val_prec']:.3f} | "
                     f"{row['curve_auc']:.3f} |")
    lines += ["", "![train loss](optimizers_loss.png) ![val AUC](optimizers_val.png)", ""]
    path = doc / "optimizers.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    args, overrides = parse_args()
    if not args.eval_only:
        train_all(args, overrides)
    table, results = [], {}
    for name in args.optimizers:
        run_dir = Path(args.out) / name
        rows = read_rows(run_dir)
        if not rows:
            print(f"[study] {name}: no metrics in {run_dir}; skipped")
            continue
        results[name] = rows
        losses = column(rows, "loss")
        val_auc = val_prec = float("nan")
        if args.val and (run_dir / "siamfc_vggm.safetensors").exists():
            val_auc, val_prec = evaluate(run_dir / "siamfc_vggm.safetensors", args.val, args.device)
        curve = [v for v in column(rows, "val_auc") if not np.isnan(v)]
        settings = OPTIMIZER_SETTINGS[name]
        table.append({"optimizer": name, "lr": f"{settings['lr']:g} -> {settings['lr_final']:g}",
                      "epochs": int(rows[-1]["epoch"]), "final_loss": losses[-1], "min_loss": float(np.min(losses)),
                      "val_auc": val_auc, "val_prec": val_prec, "curve_auc": curve[-1] if curve else float("nan")})
        print(f"[study] {name}: loss {losses[-1]:.4f}, val AUC {val_auc:.3f}, prec {val_prec:.3f}", flush=True)
    if table:
        print(f"[study] wrote {write_doc(args, overrides, table, results)}")
    return 0 if table else 1


if __name__ == "__main__":
    sys.exit(main())
