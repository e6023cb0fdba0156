"""A run folder is never overwritten by accident, --max-steps + --resume is exact,
disk full while saving leaves nothing half-done, and resume after kill -9 neither loses nor repeats metrics rows.
Real run folders; kill -9 and `ulimit -f` in real subprocesses."""

from __future__ import annotations

import csv
import hashlib
import signal
from pathlib import Path

import pytest
import torch
from conftest import write_training_set
from safetensors.torch import load_file

from faults.harness import assert_one_error_line, file_limit, files_under, kill_when, run_cli, run_main

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

# 2 epochs x 4 steps of 2 pairs on 64x64 frames, small crops, no autocast: a second or two per run.
TINY = ["epochs=2", "pairs_per_epoch=8", "batch_size=2", "exemplar_size=63", "search_size=95",
        "autocast_bf16=false", "workers=0", "log_every=1"]
WEIGHTS = "siamfc_vggm.safetensors"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp("train") / "data", count=2, frames=6)


def train(capsys, data, run, *extra):
    return run_main(capsys, "train", "siamfc", "--data", data, "--out", run, "--device", "cpu", *TINY, *extra)


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as handle:
        return [{k: row[k] for k in ("epoch", "step", "loss", "lr")} for row in csv.DictReader(handle)]


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = load_file(str(a)), load_file(str(b))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def digests(run: Path) -> dict:
    return {p: hashlib.sha256((run / p).read_bytes()).hexdigest() for p in files_under(run) if (run / p).is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data):
    """The uninterrupted run every interrupted one is compared with."""
    from twintrack.cli.main import main

    run = tmp_path_factory.mktemp("reference") / "run"
    assert main(["train", "siamfc", "--data", str(data), "--out", str(run), "--device", "cpu", *TINY]) == 0
    return run


# --------------------------------------------------------------------------------- row 2: a finished run folder


def test_training_into_a_run_folder_without_resume_or_overwrite_is_refused(capsys, tmp_path, data, reference):
    run = tmp_path / "run"
    assert train(capsys, data, run).returncode == 0
    before = digests(run)
    result = train(capsys, data, run)
    assert_one_error_line(result, str(run), "--resume", "--overwrite")
    assert digests(run) == before  # the issue: checkpoint back to epoch 1, metrics.csv mixing both runs


def test_overwrite_starts_the_run_again(capsys, tmp_path, data, reference):
    run = tmp_path / "run"
    assert train(capsys, data, run).returncode == 0
    assert train(capsys, data, run, "--overwrite", "lr=0.02").returncode == 0
    assert [row["epoch"] for row in metrics(run)] == ["1", "2"]  # only the new run's rows
    assert not same_weights(run / WEIGHTS, reference / WEIGHTS)


def test_resume_and_overwrite_together_are_refused(capsys, tmp_path, data):
    assert_one_error_line(train(capsys, data, tmp_path / "run", "--resume", "--overwrite"), "--resume", "--overwrite")


# ---------------------------------------------------------------------------- row 3: --max-steps then --resume


@pytest.mark.parametrize("first_steps", [3, 4, 5])  # mid-epoch, at the epoch end, mid second epoch
def test_max_steps_then_resume_equals_the_uninterrupted_run(capsys, tmp_path, data, reference, first_steps):
    run = tmp_path / "run"
    assert train(capsys, data, run, "--max-steps", str(first_steps)).returncode == 0
    result = train(capsys, data, run, "--resume")
    assert result.returncode == 0, result.stderr
    assert metrics(run) == metrics(reference)  # 8 steps in two rows, not 27 steps / a row twice
    assert same_weights(run / WEIGHTS, reference / WEIGHTS)  # the issue: max abs diff 6.0


# ------------------------------------------------------------------------- row 8: disk full while saving


def test_disk_full_while_saving_leaves_no_tmp_and_no_rows_for_unsaved_epochs(tmp_path, data):
    run = tmp_path / "run"
    # 256 KiB: config.yaml and metrics rows fit, a checkpoint (megabytes) does not.
    result = run_cli("train", "siamfc", "--data", data, "--out", run, "--device", "cpu", *TINY,
                     preexec=file_limit(512))
    assert_one_error_line(result, "checkpoint.pt")
    assert not [p for p in files_under(run) if p.name.endswith(".tmp")]
    assert not (run / "checkpoint.pt").exists()
    assert not (run / "metrics.csv").exists() or metrics(run) == []  # no row for an epoch that was not saved


# -------------------------------------------------------------------- row 11 + kill -9 at random points


def test_resume_after_a_kill_between_row_and_checkpoint_does_not_repeat_rows(capsys, tmp_path, data, reference):
    """The state a kill -9 left in the issue: epoch 2's row in metrics.csv, the checkpoint still at epoch 1."""
    import shutil

    run = tmp_path / "run"
    assert train(capsys, data, run, "--max-steps", "4").returncode == 0
    shutil.copy(run / "checkpoint.pt", tmp_path / "epoch1.pt")
    assert train(capsys, data, run, "--resume").returncode == 0
    shutil.copy(tmp_path / "epoch1.pt", run / "checkpoint.pt")
    (run / ".checkpoint.pt.99999.tmp").write_bytes(b"half a checkpoint")  # a kill -9 inside the atomic write
    assert train(capsys, data, run, "--resume").returncode == 0  # epoch 2 is replayed
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    assert metrics(run) == metrics(reference)  # was: epoch 2's row twice
    assert same_weights(run / WEIGHTS, reference / WEIGHTS)



@pytest.mark.parametrize("seed", [0, 1])
def test_kill_9_at_a_random_point_then_resume_equals_the_uninterrupted_run(tmp_path, data, reference, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    run = tmp_path / "run"
    args = ["train", "siamfc", "--data", data, "--out", run, "--device", "cpu", *TINY]
    kills = 0
    for _ in range(3):  # up to three kills per run, each at a random file event
        target = int(rng.integers(0, 3))  # kill once the run has written this many checkpoints (0..2)
        seen = set()

        def ready() -> bool:
            path = run / "checkpoint.pt"
            if path.exists():
                seen.add(path.stat().st_mtime_ns)
            return len(seen) > target or (target == 0 and (run / "config.yaml").exists())

        resume = ["--resume"] if (run / "checkpoint.pt").exists() else []
        result = kill_when([*args, *resume], ready)
        if result.returncode == 0:
            break
        assert result.returncode == -signal.SIGKILL, result.stderr
        kills += 1
    assert kills >= 1  # the run was really interrupted
    final = run_cli(*args, *(["--resume"] if (run / "checkpoint.pt").exists() else []))
    assert final.returncode == 0, final.stderr
    assert metrics(run) == metrics(reference)  # every epoch once: no replayed row, none missing
    assert same_weights(run / WEIGHTS, reference / WEIGHTS)
    assert not [p for p in files_under(run) if p.name.endswith(".tmp")]


# ------------------------------------------------------------- the same promises for the MDNet trainer

MDNET_TINY = ["iterations=6", "frames_per_iter=2", "batch_pos=4", "batch_neg=8", "autocast_bf16=false",
              "checkpoint_every=2", "log_every=1"]  # 3 epochs of 2 domains; a checkpoint every 2nd epoch


def train_mdnet(capsys, data, run, *extra):
    return run_main(capsys, "train", "mdnet", "--data", data, "--out", run, "--device", "cpu", *MDNET_TINY, *extra)


def test_mdnet_max_steps_then_resume_equals_the_uninterrupted_run(capsys, tmp_path, data):
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert train_mdnet(capsys, data, reference).returncode == 0
    assert train_mdnet(capsys, data, run, "--max-steps", "3").returncode == 0  # mid epoch 2, before its checkpoint
    assert train_mdnet(capsys, data, run).returncode == 2  # the folder holds a run now
    assert train_mdnet(capsys, data, run, "--resume").returncode == 0
    assert metrics(run) == metrics(reference) and len(metrics(run)) == 3
    weights = sorted(p.name for p in reference.glob("*.safetensors"))
    assert weights and all(same_weights(run / name, reference / name) for name in weights)
