"""conv3 pruned to fewer channels without retraining: which channels to keep, what it costs in AUC, what it saves.

    .venv/bin/python bench/runtime_prune.py --channels 256 --sequences Jogging1 bag caviar_Caviar2 MountainBike6

Channel selection is computed on TRAINING pairs only (exemplar at frame t, search region at frame t + gap around
frame t's box, ../shared/data/sot/train): ``contribution`` keeps the channels whose own correlation is highest at
the target's true position relative to the rest of the map (what SiamFC's response is made of); ``energy`` keeps
the channels with the largest mean square activation. The head's gain and bias are refitted by least squares so
that the pruned response matches the full one on the same training pairs (the lost-target score reads logits).
Then SiamFC (preset, fp32) tracks the named val sequences with the full and the pruned networks, and the
backbone's time per 255 crop is measured for both (fp32 and int8 calibrated on training crops).
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from twintrack.data import discover, read_image
from twintrack.eval.metrics import score_sequence
from twintrack.eval.sequences import load_folder_sequences
from twintrack.geometry import context_size, crop_and_resize, xywh_to_cxcywh
from twintrack.models import SiamFCNet
from twintrack.runtime import build_backbone_engine
from twintrack.runtime.calibration import calibration_crops, quantize_backbone
from twintrack.runtime.engine import OnnxInt8Engine
from twintrack.app.registry import get_tracker
from twintrack.tracker.siamfc import SiamFCTracker
from twintrack.weights import default_weights, load_weights

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sot"


def training_pairs(count: int, gap: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    sequences = discover(SHARED / "train")
    pairs = []
    for i in range(count):
        sequence = sequences[i % len(sequences)]
        t = int(rng.integers(max(1, len(sequence.frames) - gap)))
        u = min(t + gap, len(sequence.frames) - 1)
        cx, cy, w, h = xywh_to_cxcywh(sequence.boxes[t])
        side = context_size((w, h))
        exemplar = crop_and_resize(read_image(sequence.frames[t]), (cx, cy), side, 127)
        search = crop_and_resize(read_image(sequence.frames[u]), (cx, cy), side * 255 / 127, 255)
        # Where the target is in the 17x17 response: its displacement in search-crop pixels / stride 8.
        ucx, ucy = xywh_to_cxcywh(sequence.boxes[u])[:2]
        offset = (np.array([ucx - cx, ucy - cy]) * 255 / (side * 255 / 127)) / 8
        cell = np.clip(np.round(offset + 8).astype(int), 0, 16)
        pairs.append((exemplar, search, (int(cell[1]), int(cell[0]))))
    return pairs


def to_tensor(crop) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float()


@torch.no_grad()
def channel_scores(net: SiamFCNet, pairs):
    """Per conv3 channel: mean (correlation at the target's cell - mean over the map), and mean square activation."""
    contribution, energy = 0, 0
    for exemplar, search, (row, col) in pairs:
        z, x = net.embed(to_tensor(exemplar))[0], net.embed(to_tensor(search))[0]
        per_channel = F.conv2d(x[None], z[:, None], groups=z.shape[0])[0]  # (C, 17, 17): each channel's own
        contribution = contribution + (per_channel[:, row, col] - per_channel.mean(dim=(1, 2)))
        energy = energy + x.pow(2).mean(dim=(1, 2))
    return contribution / len(pairs), energy / len(pairs)


@torch.no_grad()
def pruned(net: SiamFCNet, keep: torch.Tensor, pairs) -> SiamFCNet:
    """A copy with conv3 cut to the ``keep`` channels and the head's gain/bias refitted on ``pairs``."""
    small = copy.deepcopy(net).eval()
    conv3 = small.backbone.conv3[0]
    new = nn.Conv2d(conv3.in_channels, len(keep), conv3.kernel_size, conv3.stride)
    new.weight.copy_(conv3.weight[keep])
    new.bias.copy_(conv3.bias[keep])
    small.backbone.conv3[0] = new
    full, part = [], []
    for exemplar, search, _ in pairs:
        full.append(net(to_tensor(exemplar), to_tensor(search)).flatten())
        part.append(small(to_tensor(exemplar), to_tensor(search)).flatten())
    full, part = torch.cat(full), torch.cat(part)
    design = torch.stack([part, torch.ones_like(part)], dim=1)
    alpha, beta = torch.linalg.lstsq(design, full[:, None]).solution.flatten().tolist()
    small.head.gain.mul_(alpha)
    small.head.bias.mul_(alpha).add_(beta)
    return small


def track_auc(net: SiamFCNet, names, config) -> dict:
    sequences = {s.name: s for s in load_folder_sequences(SHARED / "val")}
    scores = {}
    for name in names:
        sequence = sequences[name]
        tracker = SiamFCTracker(net, config, torch.device("cpu"))
        frames = [read_image(f) for f in sequence.frames]
        boxes = [np.asarray(sequence.ground_truth[0], dtype=np.float64)]
        tracker.init(frames[0], boxes[0])
        boxes += [tracker.update(frame).box for frame in frames[1:]]
        scores[name] = score_sequence(np.array(boxes), sequence.ground_truth).success_auc
    return scores


def backbone_ms(backbone, int8_crops, reps: int = 10, rounds: int = 3) -> tuple[float, float]:
    engines = [build_backbone_engine(backbone, "fp32", torch.device("cpu")),
               OnnxInt8Engine(quantize_backbone(backbone, int8_crops))]
    x = torch.rand(1, 3, 255, 255) * 255
    best = [float("inf")] * 2
    for _ in range(rounds):
        for i, engine in enumerate(engines):
            engine(x)
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                engine(x)
                times.append(time.perf_counter() - start)
            best[i] = min(best[i], 1000 * float(np.median(times)))
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--pairs", type=int, default=244, help="training pairs for the channel criterion")
    parser.add_argument("--sequences", nargs="*", default=["Jogging1", "bag", "caviar_Caviar2", "MountainBike6"])
    parser.add_argument("--criteria", nargs="*", default=["contribution", "energy"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=["precision=fp32"], help="SiamFC config overrides")
    parser.add_argument("--no-full-auc", action="store_true", help="time the full network but do not track with it")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    net = SiamFCNet().eval()
    load_weights(net, default_weights("siamfc"), arch="siamfc_vggm")
    config = get_tracker("siamfc").load_config(args.set)
    pairs = training_pairs(args.pairs)
    contribution, energy = channel_scores(net, pairs)
    networks = {"full (512)": net}
    for criterion in args.criteria:
        score = contribution if criterion == "contribution" else energy
        keep = torch.argsort(score, descending=True)[: args.channels].sort().values
        networks[f"{criterion} ({args.channels})"] = pruned(net, keep, pairs)
    int8_crops = calibration_crops(discover(SHARED / "train"), 64, seed=0)
    print(f"| conv3 | {' | '.join(args.sequences)} | mean AUC | backbone fp32 ms (255) | int8 ms (255) |")
    print(f"|---|{'---|' * len(args.sequences)}---|---|---|")
    for name, network in networks.items():
        if args.no_full_auc and network is net:
            aucs = {s: float("nan") for s in args.sequences}
        else:
            aucs = track_auc(network, args.sequences, config)
        fp32_ms, int8_ms = backbone_ms(network.backbone, int8_crops)
        cells = " | ".join(f"{aucs[s]:.3f}" for s in args.sequences)
        print(f"| {name} | {cells} | {np.mean(list(aucs.values())):.3f} | {fp32_ms:.1f} | {int8_ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
