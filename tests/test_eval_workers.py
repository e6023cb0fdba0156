"""`twintrack eval --workers N`: the same result files as one process, skipping finished sequences."""

from __future__ import annotations

import numpy as np

from twintrack.cli import main

from conftest import moving_target_clip, write_sequence_folder


def test_two_workers_write_the_same_results_as_one(tmp_path):
    data = tmp_path / "data"
    for name, seed in (("seq_a", 0), ("seq_b", 1), ("seq_c", 2)):
        frames, boxes = moving_target_clip(6, (96, 96), 24, (20, 30), (3, 2), seed=seed)
        write_sequence_folder(data / name, frames, boxes)
    common = ["eval", "--baseline", "kcf", "--baseline", "csrt", "--dataset", f"folder:{data}"]
    assert main(common + ["--out", str(tmp_path / "one")]) == 0
    # Two finished sequences already there: the workers only run the rest, and leave those files alone.
    two = tmp_path / "two" / "results"
    for tracker in ("kcf", "csrt"):
        (two / tracker / "times").mkdir(parents=True)
        (two / tracker / ".provenance").mkdir()
        # A result is reused with the record of what produced it (eval/provenance.py).
        for path in ("seq_a.txt", "times/seq_a_time.txt", ".provenance/seq_a.json"):
            (two / tracker / path).write_bytes((tmp_path / "one" / "results" / tracker / path).read_bytes())
    stamp = (two / "kcf" / "seq_a.txt").stat().st_mtime_ns
    assert main(common + ["--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    assert (two / "kcf" / "seq_a.txt").stat().st_mtime_ns == stamp
    for tracker in ("kcf", "csrt"):
        for seq in ("seq_a", "seq_b", "seq_c"):
            one = np.loadtxt(tmp_path / "one" / "results" / tracker / f"{seq}.txt", delimiter=",")
            np.testing.assert_array_equal(np.loadtxt(two / tracker / f"{seq}.txt", delimiter=","), one)
    # No temporary files are left behind by the atomic writes.
    assert not list((tmp_path / "two").rglob("*.tmp"))
    assert (tmp_path / "two" / "report.html").exists()


def test_workers_must_be_positive(tmp_path, capsys):
    assert main(["eval", "--baseline", "kcf", "--dataset", f"folder:{tmp_path}", "--out", str(tmp_path / "o"),
                 "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
