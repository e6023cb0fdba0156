"""ONNX graphs of twintrack's networks, written layer by layer from the nn.Modules.

The networks are plain chains (conv, ReLU, max-pool, linear), so each layer maps to one ONNX node. Writing the
graph directly, instead of tracing it with ``torch.onnx.export``, gives the same bytes for the same weights on
every torch version (the exporter has changed back-ends twice since torch 2.4), which keeps int8 calibration
reproducible and needs only the ``onnx`` package, not the exporter's own dependencies.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from twintrack.models.backbone import fold_batchnorm

OPSET = 17
INPUT_NAME = "images"
OUTPUT_NAME = "features"


def _onnx():
    try:
        import onnx
    except ImportError:
        from twintrack.errors import UserError

        raise UserError("writing ONNX models needs the 'onnx' package, which is not installed; "
                        "install it with: pip install 'twintrack[onnx]'") from None
    return onnx


def inference_copy(backbone: nn.Module) -> nn.Module:
    """An eval-mode fp32 CPU copy with BatchNorm folded into the convolutions; ``backbone`` is left as it is."""
    return fold_batchnorm(copy.deepcopy(backbone).eval().float().cpu())


def _initializer(onnx, name: str, tensor: torch.Tensor):
    return onnx.numpy_helper.from_array(tensor.detach().cpu().float().numpy(), name)


def _chain_nodes(onnx, module: nn.Module, input_name: str, prefix: str):
    """Nodes and initializers for a chain of Conv2d / ReLU / MaxPool2d / Linear / Identity layers."""
    nodes, inits, current = [], [], input_name
    leaves = [(name, m) for name, m in module.named_modules() if not list(m.children())]
    for index, (name, layer) in enumerate(leaves):
        out = f"{prefix}{name or index}"
        if isinstance(layer, (nn.Identity, nn.Dropout)):
            continue
        if isinstance(layer, nn.Conv2d):
            if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                raise ValueError(f"{name}: only numeric zero padding is exported")
            weight, bias = f"{out}.weight", f"{out}.bias"
            inits.append(_initializer(onnx, weight, layer.weight))
            inputs = [current, weight]
            if layer.bias is not None:
                inits.append(_initializer(onnx, bias, layer.bias))
                inputs.append(bias)
            pad_h, pad_w = layer.padding
            nodes.append(onnx.helper.make_node(
                "Conv", inputs, [out], name=out, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                pads=[pad_h, pad_w, pad_h, pad_w], dilations=list(layer.dilation), group=layer.groups))
        elif isinstance(layer, nn.ReLU):
            nodes.append(onnx.helper.make_node("Relu", [current], [out], name=out))
        elif isinstance(layer, nn.MaxPool2d):
            if layer.padding or layer.dilation != 1:
                raise ValueError(f"{name}: only unpadded, undilated max-pooling is exported")
            pair = lambda v: [v, v] if isinstance(v, int) else list(v)  # noqa: E731
            nodes.append(onnx.helper.make_node(
                "MaxPool", [current], [out], name=out, kernel_shape=pair(layer.kernel_size),
                strides=pair(layer.stride), ceil_mode=int(layer.ceil_mode)))
        elif isinstance(layer, nn.Linear):
            weight, bias = f"{out}.weight", f"{out}.bias"
            inits.append(_initializer(onnx, weight, layer.weight))
            inits.append(_initializer(onnx, bias, layer.bias if layer.bias is not None
                                      else torch.zeros(layer.out_features)))
            nodes.append(onnx.helper.make_node("Gemm", [current, weight, bias], [out], name=out, transB=1))
        else:
            raise ValueError(f"{name}: layer type {type(layer).__name__} is not exported")
        current = out
    return nodes, inits, current


def _model(onnx, nodes, inits, inputs, outputs, doc: str, metadata: dict | None):
    graph = onnx.helper.make_graph(nodes, "twintrack", inputs, outputs, initializer=inits)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="twintrack", doc_string=doc)
    model.ir_version = 8  # readable by ONNX Runtime >= 1.14
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model)
    return model


def backbone_to_onnx(backbone: nn.Module, metadata: dict | None = None):
    """VGG-M conv1-3 as an ONNX model: ``images`` (N, 3, H, W) float RGB 0..255 -> ``features`` (N, C, H', W').

    Batch and image size are dynamic. BatchNorm is folded on a copy first (the same function, fewer nodes).
    """
    onnx = _onnx()
    net = inference_copy(backbone)
    nodes, inits, last = _chain_nodes(onnx, net, INPUT_NAME, "")
    nodes[-1].output[0] = OUTPUT_NAME
    channels = [m for m in net.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
    float_type = onnx.TensorProto.FLOAT
    inputs = [onnx.helper.make_tensor_value_info(INPUT_NAME, float_type, ["n", 3, "height", "width"])]
    outputs = [onnx.helper.make_tensor_value_info(OUTPUT_NAME, float_type, ["n", channels, "fh", "fw"])]
    return _model(onnx, nodes, inits, inputs, outputs, "twintrack VGG-M backbone (conv1-3)", metadata)


def siamfc_head_to_onnx(head: nn.Module, metadata: dict | None = None):
    """SiamFC's head: ``exemplar_feat`` (1, C, h, w) correlated with ``search_feat`` (k, C, H, W) -> ``response``
    (k, 1, H-h+1, W-w+1) logits, i.e. conv(search, exemplar) * base_scale * gain + bias."""
    onnx = _onnx()
    scale = np.array(float(head.base_scale * head.gain.detach()), dtype=np.float32)
    bias = np.array(float(head.bias.detach()), dtype=np.float32)
    inits = [onnx.numpy_helper.from_array(scale, "scale"), onnx.numpy_helper.from_array(bias, "bias")]
    nodes = [
        onnx.helper.make_node("Conv", ["search_feat", "exemplar_feat"], ["correlation"], name="xcorr"),
        onnx.helper.make_node("Mul", ["correlation", "scale"], ["scaled"], name="scale"),
        onnx.helper.make_node("Add", ["scaled", "bias"], ["response"], name="bias"),
    ]
    float_type = onnx.TensorProto.FLOAT
    inputs = [onnx.helper.make_tensor_value_info("exemplar_feat", float_type, [1, "c", "h", "w"]),
              onnx.helper.make_tensor_value_info("search_feat", float_type, ["k", "c", "sh", "sw"])]
    outputs = [onnx.helper.make_tensor_value_info("response", float_type, ["k", 1, "rh", "rw"])]
    return _model(onnx, nodes, inits, inputs, outputs, "twintrack SiamFC head (cross-correlation)", metadata)


def mdnet_head_to_onnx(head: nn.Module, branch: int, pooled_size: int, stride: int, roi_shift: float,
                       sampling_ratio: int, metadata: dict | None = None):
    """MDNet's scoring of boxes on one region's feature map, as the tracker does it at inference (dropout off):
    ``features`` (1, C, H, W) and ``rois`` (K, 4: x1, y1, x2, y2 in region pixels) -> ``scores`` (K, 2) logits
    [background, target]. RoIAlign (aligned, avg, ``pooled_size`` bins, ``sampling_ratio`` samples per bin axis) of
    the boxes moved by ``-roi_shift`` pixels, ReLU, each box's vector scaled to unit RMS, then fc4, fc5 and fc6
    branch ``branch``."""
    onnx = _onnx()
    helper = onnx.helper
    shift = onnx.numpy_helper.from_array(np.array(roi_shift, dtype=np.float32), "roi_shift")
    eps = onnx.numpy_helper.from_array(np.array(1e-6, dtype=np.float32), "eps")
    zero = onnx.helper.make_tensor("zero", onnx.TensorProto.INT64, [1], [0])
    nodes = [
        helper.make_node("Sub", ["rois", "roi_shift"], ["shifted"], name="roi_shift"),
        helper.make_node("Shape", ["rois"], ["rois_shape"], name="rois_shape", end=1),
        helper.make_node("ConstantOfShape", ["rois_shape"], ["batch_indices"], name="batch_indices", value=zero),
        helper.make_node("RoiAlign", ["features", "shifted", "batch_indices"], ["pooled"], name="roi_align",
                         mode="avg", output_height=pooled_size, output_width=pooled_size,
                         sampling_ratio=sampling_ratio, spatial_scale=1.0 / stride,
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Relu", ["pooled"], ["pooled_relu"], name="pooled_relu"),
        helper.make_node("Flatten", ["pooled_relu"], ["flat"], name="flatten", axis=1),  # channel-major, as fc4
        helper.make_node("Mul", ["flat", "flat"], ["square"], name="square"),
        helper.make_node("ReduceMean", ["square"], ["mean_square"], name="mean_square", axes=[1], keepdims=1),
        helper.make_node("Add", ["mean_square", "eps"], ["mean_square_eps"], name="add_eps"),
        helper.make_node("Sqrt", ["mean_square_eps"], ["rms"], name="rms"),
        helper.make_node("Div", ["flat", "rms"], ["normalized"], name="normalize"),
    ]
    layers = nn.Sequential(head.fc4, head.fc5, head.branches[branch]).eval()
    fc_nodes, inits, _ = _chain_nodes(onnx, layers, "normalized", "")
    fc_nodes[-1].output[0] = "scores"
    float_type = onnx.TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("features", float_type, [1, "c", "fh", "fw"]),
              helper.make_tensor_value_info("rois", float_type, ["k", 4])]
    outputs = [helper.make_tensor_value_info("scores", float_type, ["k", 2])]
    return _model(onnx, nodes + fc_nodes, [shift, eps] + inits, inputs, outputs,
                  "twintrack MDNet box scoring (RoIAlign, fc4-fc6)", metadata)
