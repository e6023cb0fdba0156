"""Write the shipped int8 backbone model: calibrate on training crops, save beside the weights with its sha256.

    python scripts/calibrate_int8.py                 # DATA_ROOT/sot/train, 128 frames, seed 0
    python scripts/calibrate_int8.py --check         # recompute and compare with the shipped file

Training sequences only (never val); DATA_ROOT is $TWINTRACK_DATA, else ../shared/data beside the repository.
Deterministic: the same data, count and seed give the same bytes, so ``--check`` verifies the shipped file. The
shipped SiamFC and MDNet weights share one backbone, so one model serves both (it is looked up by the weights'
fingerprint). For your own weights, `twintrack export --int8` calibrates a model beside the export.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from twintrack.data import discover
from twintrack.eval.paths import REPOSITORY, sot_folder
from twintrack.models import SiamFCNet
from twintrack.runtime.calibration import (
    SHIPPED_TABLE,
    calibration_crops,
    model_fingerprint,
    quantize_backbone,
    write_shipped_entry,
)
from twintrack.weights import default_weights, load_weights

FILE_NAME = "vggm_int8.onnx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(sot_folder("train")), help="training sequences")
    parser.add_argument("--frames", type=int, default=128, help="frames drawn (one 255 search crop each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPOSITORY / "twintrack" / "weights"), help="folder for the model and int8.json")
    parser.add_argument("--check", action="store_true", help="compare with the shipped file instead of writing")
    args = parser.parse_args()

    net = SiamFCNet()
    load_weights(net, default_weights("siamfc"), arch="siamfc_vggm")
    start = time.perf_counter()
    crops = calibration_crops(discover(args.data), args.frames, args.seed)
    model = quantize_backbone(net.backbone, crops)
    print(f"calibrated on {len(crops)} crops in {time.perf_counter() - start:.1f} s; {len(model)} bytes; "
          f"weights fingerprint {model_fingerprint(model)[:16]}")
    out = Path(args.out)
    if args.check:
        same = (out / FILE_NAME).read_bytes() == model
        print(f"{out / FILE_NAME}: {'identical' if same else 'DIFFERENT'}")
        raise SystemExit(0 if same else 1)
    note = (f"scripts/calibrate_int8.py: {args.frames} frames (one 255 search crop each) of "
            f"{Path(args.data).name} (training split), seed {args.seed}, ONNX Runtime QDQ minmax")
    write_shipped_entry(model, out, FILE_NAME, note)
    print(f"wrote {out / FILE_NAME} and {out / SHIPPED_TABLE}")


if __name__ == "__main__":
    main()
