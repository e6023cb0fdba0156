"""``twintrack export``: a tracker's networks as ONNX files plus the preprocessing contract (``contract.json``).

The same graphs the int8 engine runs (``onnx_graph``), so export and CPU inference are one mechanism. Written:

- SiamFC: ``backbone.onnx`` (crops -> features), ``siamfc_head.onnx`` (exemplar and search features -> response).
- MDNet: ``backbone.onnx`` (the region -> features), ``mdnet_head.onnx`` (features + boxes -> scores of the
  offline-trained fc4-fc6; the tracker fine-tunes these online from the first frame, which ONNX does not do).
- with ``int8_crops``: ``backbone_int8.onnx``, calibrated on those crops (QDQ; runs in ONNX Runtime or OpenVINO);
  give it to a tracker with ``int8_model=DIR/backbone_int8.onnx``.

``export_siamfc`` and ``export_mdnet`` are the ``export`` hooks of the registry's built-in entries
(app/registry.py).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from twintrack.models.backbone import VGGM
from twintrack.runtime.calibration import fingerprint, quantize_backbone
from twintrack.runtime.onnx_graph import OPSET, backbone_to_onnx, mdnet_head_to_onnx, siamfc_head_to_onnx

BACKBONE_INPUT = {
    "name": "images",
    "layout": "NCHW",
    "dtype": "float32",
    "colour_order": "RGB",
    "value_range": [0, 255],
    "normalisation": "none: raw pixel values (BatchNorm is folded into the convolutions)",
}
CROP_RULE = ("a square of side S centred on (cx, cy), resized to the crop size with bilinear interpolation; parts "
             "outside the frame are filled with the first frame's mean colour")


def _contract(tracker: str, backbone, config, files: dict, extra: dict) -> dict:
    return {
        "tracker": tracker,
        "onnx_opset": OPSET,
        "weights_fingerprint": fingerprint(backbone),
        "files": files,
        "backbone_input": BACKBONE_INPUT,
        "backbone_output": {"name": "features", "layout": "NCHW", "dtype": "float32",
                            "total_stride": VGGM.total_stride,
                            "feature_size": "((((H - 7) // 2 + 1 - 3) // 2 + 1 - 5) // 2 + 1) - 2 for an H-pixel crop"},
        **extra,
        "config": dataclasses.asdict(config),
    }


def _write(out: Path, name: str, model) -> str:
    (out / name).write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return name


def export_siamfc(net, config, out_dir: str | Path, int8_crops=None) -> Path:
    """Write SiamFC's ONNX files and ``contract.json`` into ``out_dir``; returns the contract's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"backbone": _write(out, "backbone.onnx", backbone_to_onnx(net.backbone)),
             "head": _write(out, "siamfc_head.onnx", siamfc_head_to_onnx(net.head))}
    if int8_crops is not None:
        files["backbone_int8"] = _write(out, "backbone_int8.onnx", quantize_backbone(net.backbone, int8_crops))
    extra = {
        "crops": {
            "exemplar_size": config.exemplar_size, "search_size": config.search_size, "context": config.context,
            "exemplar_side": "S_z = sqrt((w + p) * (h + p)), p = context * (w + h), around the first frame's box",
            "search_side": "S_x = S_z * search_size / exemplar_size, around the last position (times each scale "
                           "factor scale_step ** k, k = -(scale_num // 2) .. scale_num // 2, in search3 mode)",
            "rule": CROP_RULE,
        },
        "head": {"inputs": "exemplar_feat (1, C, h, w), search_feat (k, C, H, W)",
                 "output": "response (k, 1, H - h + 1, W - w + 1) logits; sigmoid gives a score",
                 "peak_to_frame": "upsample by response_up (bicubic), add the cosine window (window_influence); "
                                  "the peak's offset from the centre times total_stride / response_up is in search-"
                                  "crop pixels; times S_x / search_size in frame pixels"},
    }
    contract = _contract("siamfc", net.backbone, config, files, extra)
    (out / "contract.json").write_text(json.dumps(contract, indent=2) + "\n")
    return out / "contract.json"


def export_mdnet(net, config, out_dir: str | Path, int8_crops=None) -> Path:
    """Write MDNet's ONNX files and ``contract.json`` into ``out_dir``; returns the contract's path."""
    from twintrack.models.mdnet import FEATURE_ORIGIN, POOLED_SIZE

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    roi_shift = FEATURE_ORIGIN - VGGM.total_stride / 2  # as MDNet.pool: bins centred on pixel 8 i + 21.5 hit cell i
    head = mdnet_head_to_onnx(net.head, 0, POOLED_SIZE, VGGM.total_stride, roi_shift, sampling_ratio=2)
    files = {"backbone": _write(out, "backbone.onnx", backbone_to_onnx(net.backbone)),
             "head": _write(out, "mdnet_head.onnx", head)}
    if int8_crops is not None:
        files["backbone_int8"] = _write(out, "backbone_int8.onnx", quantize_backbone(net.backbone, int8_crops))
    extra = {
        "crops": {
            "region_size": config.region_size, "target_pixels": config.target_pixels,
            "region_side": "S = region_size * sqrt(w * h) / target_pixels frame pixels around the last box "
                           "(the target's mean side becomes target_pixels region pixels)",
            "rule": CROP_RULE,
        },
        "head": {"inputs": "features (1, C, H, W) of the region; rois (K, 4) x1, y1, x2, y2 in region pixels",
                 "output": "scores (K, 2) logits [background, target] of the offline-trained fc4-fc6 (branch 0)",
                 "roi_align": {"output_size": POOLED_SIZE, "sampling_ratio": 2, "spatial_scale": 1 / VGGM.total_stride,
                               "aligned": True, "box_shift_pixels": -roi_shift},
                 "note": "the tracker fine-tunes fc4-fc6 online from the first frame (hard negative mining); "
                         "this file scores boxes with the offline weights only"},
    }
    contract = _contract("mdnet", net.backbone, config, files, extra)
    (out / "contract.json").write_text(json.dumps(contract, indent=2) + "\n")
    return out / "contract.json"

