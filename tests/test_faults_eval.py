"""Every result records what produced it and is redone when that differs; a
sequence that changed is rerun (or one line), never got10k's bare AssertionError. Real files, the real command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_random_net, moving_target_clip, write_sequence_folder

from twintrack.cli.main import main
from twintrack.weights import save_weights, sha256_of

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]
pytest.importorskip("got10k")


def write_dataset(root: Path, frames: int = 6) -> Path:
    for name, seed in (("seq_a", 0), ("seq_b", 1)):
        clip, boxes = moving_target_clip(frames, (96, 96), 24, (20, 30), (3, 2), seed=seed)
        write_sequence_folder(root / name, clip, boxes)
    return root


def eval_args(data: Path, out: Path, weights: Path, *extra: str) -> list[str]:
    return ["eval", "--tracker", "siamfc", "--weights", str(weights), "--device", "cpu", "--dataset",
            f"folder:{data}", "--out", str(out), *extra]


@pytest.fixture
def two_weights(tmp_path):
    return [save_weights(make_random_net(seed), tmp_path / f"w{seed}.safetensors", arch="siamfc_vggm")
            for seed in (0, 1)]


def stamps(out: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in (out / "results" / "siamfc").glob("*.txt")}


def test_other_weights_or_config_redo_the_results(tmp_path, capsys, two_weights):
    data, out = write_dataset(tmp_path / "data"), tmp_path / "out"
    assert main(eval_args(data, out, two_weights[0])) == 0
    record = json.loads((out / "results" / "siamfc" / ".provenance" / "seq_a.json").read_text())
    assert record["weights_sha256"] == sha256_of(two_weights[0]) and record["frames"] == 6
    assert len(record["config_sha256"]) == 64 and record["tracker"] == "siamfc"
    first = stamps(out)
    capsys.readouterr()

    assert main(eval_args(data, out, two_weights[0])) == 0  # nothing changed: nothing rerun
    assert "0 to run" in capsys.readouterr().out and stamps(out) == first

    # The issue: "0 to run", and the report showed the new sha256 beside the old AUC.
    assert main(eval_args(data, out, two_weights[1])) == 0
    printed = capsys.readouterr().out
    assert "2 to run" in printed and "2 redone: weights changed" in printed
    assert all(stamps(out)[name] != first[name] for name in first)
    assert sha256_of(two_weights[1]) in (out / "report.md").read_text()
    assert json.loads((out / "results" / "siamfc" / ".provenance" / "seq_b.json").read_text())[
        "weights_sha256"] == sha256_of(two_weights[1])

    assert main(eval_args(data, out, two_weights[1], "window_influence=0.3")) == 0
    assert "2 redone: config changed" in capsys.readouterr().out


def test_a_sequence_that_grew_is_rerun_not_an_assertion(tmp_path, capsys, two_weights):
    data, out = write_dataset(tmp_path / "data"), tmp_path / "out"
    assert main(eval_args(data, out, two_weights[0])) == 0
    # seq_a grows from 6 to 9 frames (new images and ground-truth lines)
    write_dataset(tmp_path / "grown", frames=9)
    for path in (tmp_path / "grown" / "seq_a").rglob("*"):
        if path.is_file():
            target = data / "seq_a" / path.relative_to(tmp_path / "grown" / "seq_a")
            target.write_bytes(path.read_bytes())
    capsys.readouterr()
    assert main(eval_args(data, out, two_weights[0])) == 0
    assert "1 to run" in capsys.readouterr().out
    assert len(np.loadtxt(out / "results" / "siamfc" / "seq_a.txt", delimiter=",", ndmin=2)) == 9


def test_a_result_without_record_is_rerun(tmp_path, capsys, two_weights):
    data, out = write_dataset(tmp_path / "data"), tmp_path / "out"
    assert main(eval_args(data, out, two_weights[0])) == 0
    (out / "results" / "siamfc" / ".provenance" / "seq_b.json").unlink()  # killed between its files, or older
    stale = out / "results" / "siamfc" / ".seq_b.txt.99999.tmp"  # killed inside an atomic write
    stale.write_text("1,2,")
    capsys.readouterr()
    assert main(eval_args(data, out, two_weights[0])) == 0
    assert "1 to run" in capsys.readouterr().out
    assert not stale.exists()


def test_a_result_of_the_wrong_length_is_rerun_or_one_line(tmp_path, capsys, two_weights):
    data, out = write_dataset(tmp_path / "data"), tmp_path / "out"
    assert main(eval_args(data, out, two_weights[0])) == 0
    result = out / "results" / "siamfc" / "seq_a.txt"
    result.write_text("".join(result.read_text().splitlines(keepends=True)[:4]))  # edited by hand
    capsys.readouterr()
    assert main(eval_args(data, out, two_weights[0])) == 0  # was got10k's bare AssertionError
    assert "1 redone: result file changed" in capsys.readouterr().out
    # Read back for a report, a result of the wrong length is one line naming the file.
    from twintrack.errors import UserError
    from twintrack.eval.jobs import load_run
    from twintrack.eval.sequences import load_folder_sequences

    result.write_text("".join(result.read_text().splitlines(keepends=True)[:4]))
    with pytest.raises(UserError, match=r"seq_a\.txt' holds 4 boxes but sequence 'seq_a' has 6 frames"):
        load_run("ope", out / "results", "siamfc", load_folder_sequences(data)[0])
