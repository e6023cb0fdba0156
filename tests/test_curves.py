"""train/curves.py: SiamFC (with and without val columns) and MDNet metrics files become a PNG."""

from __future__ import annotations

import matplotlib.image
import pytest

from twintrack.errors import UserError
from twintrack.train.curves import plot_training_curves, read_metrics

SIAMFC_HEADER = "epoch,step,loss,lr,samples_per_s,data_wait,val_auc,val_prec\n"


def check_png(path):
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    return image


def test_siamfc_metrics_with_val_auc(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text(SIAMFC_HEADER + "1,150,0.61,0.01,40.1,0.02,,\n2,300,0.50,0.008,41.0,0.01,0.31,0.40\n"
                        "3,450,0.44,0.006,40.7,0.01,,\n4,600,0.41,0.005,40.9,0.01,0.38,0.49\n")
    columns = read_metrics(csv_path)
    assert columns["val_auc"] == [None, 0.31, None, 0.38]
    out = plot_training_curves(csv_path, tmp_path / "plots" / "curves.png")
    check_png(out)


def test_siamfc_metrics_with_empty_val_columns(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text(SIAMFC_HEADER + "1,150,0.61,0.01,40.1,0.02,,\n2,300,0.50,0.008,41.0,0.01,,\n")
    check_png(plot_training_curves(csv_path, tmp_path / "curves.png"))


def test_mdnet_metrics_by_step(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text("step,loss\n" + "".join(f"{20 * i},{0.7 / i:.4f}\n" for i in range(1, 80)))
    check_png(plot_training_curves(csv_path, tmp_path / "curves.png"))


def test_header_only_file_still_plots(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text(SIAMFC_HEADER)
    check_png(plot_training_curves(csv_path, tmp_path / "curves.png"))


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        plot_training_curves(tmp_path / "nope.csv", tmp_path / "curves.png")
