"""SiamFC tracking (Bertinetto et al. 2016): correlate the first frame's exemplar with each frame's search region.

Per frame the search region around the last centre is embedded by the backbone (twintrack/runtime: int8, bf16 or
fp32) and correlated with the exemplar's features; the peak of the upsampled response, blended with a cosine
window, moves the centre, and the best of ``scale_num`` scales changes the size by ``scale_lr``. Two ways to get
those scales (config ``scale_mode``):

- ``search3`` (the preset; the paper's SiamFC-3s): ``scale_num`` search crops per frame, each through the backbone,
  against one exemplar.
- ``pyramid``: one search crop per frame, against the exemplar embedded at ``scale_num`` scales once in init()
  (one matrix product, ``SiamFCHead.all_pairs``): about half the time per frame, and less accurate.

The score is a calibrated probability that the target is present (``score_features`` / ``score``); below 0.5 the
tracker reports the target lost, and while lost the centre follows the response's peak but the size is held.
With ``use_bbreg`` a ridge regression on the best scale's search features (MDNet's box regression, fitted on the
first frame on top of an offline prior, ``bbreg_prior``) refines the reported box of located frames; the search
keeps SiamFC's own centre and size.

The per-frame work is split so that a caller can batch several trackers' crops through one backbone call
(MultiTracker): ``update(frame) == locate(frame, embed(search_crop(frame)))``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from twintrack.configs import SiamFCConfig
from twintrack.errors import UserError
from twintrack.geometry import clip_box, context_size, crop_and_resize, cxcywh_to_xywh, xywh_to_cxcywh
from twintrack.models import SiamFCNet, VGGM
from twintrack.models.mdnet import MDNet
from twintrack.runtime import build_backbone_engine
from twintrack.tracker.base import TrackResult, check_frame, check_init_box
from twintrack.tracker.bbreg import BoxRegressor, load_prior, regression_samples
from twintrack.tracker.device_crop import crop_resize, upload_frame
from twintrack.weights import shipped_calibration

@dataclass(frozen=True)
class SiamFCCalibration:
    """The lost-target score: sigmoid(bias + peak * peak logit + ratio * peak correlation relative to the first
    frame's + psr * peak-to-sidelobe ratio); below 0.5 the target is reported lost. Fitted per weights file
    (bench/siamfc_lost.py fit) on training sequences: present frames against the target painted out and against
    regions of other sequences; stored in the weights' metadata."""

    bias: float
    peak: float
    ratio: float
    psr: float

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> "SiamFCCalibration":
        try:
            return cls(**{key: float(values[key]) for key in ("bias", "peak", "ratio", "psr")})
        except KeyError as err:
            raise UserError(f"SiamFC's lost-target calibration lacks '{err.args[0]}'; refit it with "
                            "bench/siamfc_lost.py fit") from None


FEATURELESS_STD = 1.0  # a search region whose pixels vary less than this (grey levels) shows no target


class SiamFCTracker:
    name = "siamfc"

    def __init__(self, net: SiamFCNet, config: SiamFCConfig, device: torch.device,
                 calibration: dict[str, float] | None = None) -> None:
        """``calibration``: the lost-target score's weights fitted for ``net`` (its weights file's metadata: bias,
        peak, ratio, psr); None: those of the shipped weights."""
        self.config = config
        self.calibration = SiamFCCalibration.from_dict(calibration or shipped_calibration("siamfc"))
        self.device = device
        # An inference copy: moving devices and freeing the conv layers must not touch the caller's (training) network.
        net = copy.deepcopy(net).eval().requires_grad_(False)
        # bbreg_prior auto: the shipped offline regression, only for the backbone it was fitted on (by fingerprint).
        self.regressor_prior = load_prior(config, net.backbone)
        # The backbone engine: (N, 3, H, W) float32 RGB in [0, 255] on device -> (N, C, h, w) float32 features. Built
        # from the backbone as loaded: it folds BatchNorm in its own copy, and finds the int8 calibration by the
        # weights' fingerprint.
        self.backbone_engine = build_backbone_engine(net.backbone, config.precision, device,
                                                     int8_model=config.int8_model or None)
        # The engine holds what it runs: the tracker's fp32 conv layers are never read again. Free them; the head
        # (correlation, no BatchNorm) stays.
        net.backbone = None
        self.net = net.to(device).to(memory_format=torch.channels_last)
        self.timer = None  # a twintrack.tracker.timing.StageTimer to see where the time goes (bench/speed.py)

        feat_exemplar = VGGM.output_size(config.exemplar_size)
        feat_search = VGGM.output_size(config.search_size)
        self.response_size = feat_search - feat_exemplar + 1
        self.upscale_size = self.response_size * config.response_up
        hann = np.hanning(self.upscale_size).astype(np.float32)
        window = np.outer(hann, hann)
        self.window = window / window.sum()
        # The window at the coarse cells' centres, to find where the upsampled peak can be.
        self.coarse_window = np.ascontiguousarray(self.window[config.response_up // 2 :: config.response_up,
                                                              config.response_up // 2 :: config.response_up])
        half = config.scale_num // 2
        self.scale_factors = config.scale_step ** np.linspace(-half, half, config.scale_num)
        # A scale change costs a penalty; the unchanged scale (middle) does not.
        self.scale_penalties = np.full(config.scale_num, config.scale_penalty, dtype=np.float32)
        self.scale_penalties[half] = 1.0
        self.head_bias = float(self.net.head.bias)
        self.exemplar_feat = None
        self.regressor = None  # use_bbreg's, fitted by init()

    # ---------------------------------------------------------------------------------------------------- api
    def init(self, frame, box) -> None:
        frame = check_frame(frame)
        box = check_init_box(box, frame)
        cfg = self.config
        cx, cy, w, h = xywh_to_cxcywh(box)
        self.center = np.array([cx, cy])
        self.target_size = np.array([w, h])
        self.initial_size = self.target_size.copy()
        self.exemplar_side = context_size(self.target_size, cfg.context)
        self.search_side = self.exemplar_side * cfg.search_size / cfg.exemplar_size
        # Padding colour from the first frame: cheaper than a per-frame mean and stable across frames.
        self.avg_color = frame.reshape(-1, 3).mean(axis=0)
        if cfg.scale_mode == "pyramid":
            # Exemplar k sees the target scale_factors[k] times larger than it is: it matches a search crop in
            # which the target grew by that factor.
            sides = [self.exemplar_side / f for f in self.scale_factors]
        else:
            sides = [self.exemplar_side]
        exemplars = np.stack([crop_and_resize(frame, self.center, s, cfg.exemplar_size, self.avg_color) for s in sides])
        # channels_last, as the engine returns it, is the layout all_pairs reads the taps in without a copy.
        self.exemplar_feat = self.embed(exemplars).contiguous(memory_format=torch.channels_last)
        self.lost = False
        # The exemplar's response to its own frame: the yardstick for later peaks (the lost-target score).
        first_feat = self.embed(self.search_crop(frame))
        first = self._responses(first_feat)
        self.self_peak = float(first[len(first) // 2].max())
        self.regressor = self._fit_regressor(first_feat[len(first_feat) // 2][None], box, frame) \
            if cfg.use_bbreg else None

    def update(self, frame) -> TrackResult:
        # search_crop() checks and converts the frame; locate() reads only its size.
        return self.locate(frame, self.embed(self.search_crop(frame)))

    # ------------------------------------------------------------------------------- split per-frame stages
    def search_regions(self) -> np.ndarray:
        """(k, 3) float array of (cx, cy, side) in frame pixels: the regions search_crop() cuts, in its order; each
        is resized to search_size pixels and padded with ``avg_color`` outside the frame."""
        if self.exemplar_feat is None:
            raise RuntimeError("call init(frame, box) before update(frame)")
        factors = self.scale_factors if self.config.scale_mode == "search3" else np.ones(1)
        cx, cy = self.center
        return np.array([[cx, cy, self.search_side * f] for f in factors])

    def search_crop(self, frame) -> np.ndarray | torch.Tensor:
        """This frame's search crop(s): k = 1 (pyramid) or scale_num (search3). On the CPU a (k, H, W, 3) uint8
        array (cv2); on other devices a (k, 3, H, W) float32 tensor there, cut from the frame uploaded once
        (tracker/device_crop.py: one transfer per frame instead of one per crop, all crops in one grid_sample)."""
        regions = self.search_regions()
        frame = check_frame(frame)
        size = self.config.search_size
        with self._stage("crop"):
            if self.device.type != "cpu":
                return crop_resize(upload_frame(frame, self.device), regions[:, :2], regions[:, 2], size,
                                   self.avg_color)
            return np.stack([crop_and_resize(frame, (cx, cy), side, size, self.avg_color) for cx, cy, side in regions])

    def embed(self, crops: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Backbone features of (N, H, W, 3) uint8 crops, or of (N, 3, H, W) float32 crops already cut on the
        device (``search_crop`` off the CPU): (N, C, h, w) float32 on the tracker's device."""
        with self._stage("to tensor"):
            if isinstance(crops, torch.Tensor):
                images = crops.to(self.device, torch.float32)
            elif self.device.type == "cpu":
                # numpy's uint8 -> float32 is ~50x faster than torch's .float() here (0.1 vs 5-8 ms per 255 crop,
                # torch 2.14 CPU, 2 threads); both are exact.
                images = torch.from_numpy(np.asarray(crops, dtype=np.float32)).permute(0, 3, 1, 2)
            else:  # upload uint8 (4x fewer bytes), convert on the device
                images = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device).permute(0, 3, 1, 2).float()
            images = images.contiguous(memory_format=torch.channels_last)
        with self._stage("backbone"), torch.inference_mode():
            return self.backbone_engine(images)

    def locate(self, frame, search_feat: torch.Tensor) -> TrackResult:
        """The target's box in ``frame`` from the backbone features of ``search_crop(frame)``."""
        if self.exemplar_feat is None:
            raise RuntimeError("call init(frame, box) before update(frame)")
        cfg = self.config
        frame_h, frame_w = np.shape(frame)[:2]
        if self._featureless(frame):
            # A uniform region (a black or grey frame, a lens cap) matches a template anywhere equally: no target
            # can be seen there, so none is claimed, and the search stays where it was.
            self.lost = True
            box = cxcywh_to_xywh(np.concatenate([self.center, self.target_size]))
            return TrackResult(box=clip_box(box, frame_w, frame_h), score=0.0, lost=True)
        responses = self._responses(search_feat)
        best = self._best_scale(responses)
        # The scale change this frame: search3's crops are scale_factors in order, pyramid's exemplars too.
        factor = float(self.scale_factors[best])
        search3 = cfg.scale_mode == "search3"
        feat = search_feat[best if search3 else 0][None]  # the best scale's search features (the regression's)
        score = self.score(self.score_features(responses[best]))
        with self._stage("peak"):
            row, col = self._peak(responses[best])

        self.lost = score < 0.5
        searched_at = self.center
        crop_side = self.search_side * (factor if search3 else 1.0)  # the best crop's side in frame pixels
        # Peak displacement: upsampled response -> search crop pixels -> frame pixels. While lost the peak is not
        # the target, but following it keeps the search near where the target was last seen.
        disp_response = np.array([col, row], dtype=np.float64) - (self.upscale_size - 1) / 2
        disp_frame = disp_response * VGGM.total_stride / cfg.response_up * crop_side / cfg.search_size
        # Keep the centre on the image so a target that leaves it is searched for at the border it crossed.
        self.center = np.clip(searched_at + disp_frame, [0, 0], [frame_w, frame_h])
        # While lost the size stays: a background peak would grow or shrink it without bound.
        if not self.lost:
            self._update_scale(factor)

        box = cxcywh_to_xywh(np.concatenate([self.center, self.target_size]))
        if self.regressor is not None and not self.lost:
            # Reported only: the next search starts from SiamFC's own box, so the regression cannot lose the target.
            box = self._regress(box, feat, searched_at, crop_side)
        return TrackResult(box=clip_box(box, frame_w, frame_h), score=score, lost=self.lost)

    # -------------------------------------------------------------------------------------- lost-target score
    def _featureless(self, frame) -> bool:
        """Whether the frame inside the search region is uniform (pixel std under one grey level, read on a grid
        of at most about 64 x 64 pixels) or lies wholly outside the frame."""
        cx, cy = self.center
        half = self.search_side / 2
        height, width = np.shape(frame)[:2]
        x0, x1 = int(max(cx - half, 0)), int(min(cx + half, width))
        y0, y1 = int(max(cy - half, 0)), int(min(cy + half, height))
        if x1 <= x0 or y1 <= y0:
            return True
        step = max(1, int(max(x1 - x0, y1 - y0) // 64))
        return float(np.asarray(frame)[y0:y1:step, x0:x1:step].std()) < FEATURELESS_STD

    def score_features(self, response: np.ndarray) -> np.ndarray:
        """What the lost-target score reads from one coarse response map (logits): its peak, the peak's raw
        correlation relative to the first frame's (1: as similar as the exemplar to itself), and the peak-to-
        sidelobe ratio (how much the peak stands out from the rest of the map)."""
        peak = float(response.max())
        bias = self.head_bias
        # The exemplar's peak on its own frame; none or no peak at all (a featureless first frame): no yardstick.
        yardstick = self.self_peak - bias if self.self_peak is not None else 0.0
        ratio = (peak - bias) / yardstick if abs(yardstick) > 1e-9 else 1.0
        row, col = np.unravel_index(int(np.argmax(response)), response.shape)
        sidelobe = np.ones(response.shape, dtype=bool)
        sidelobe[max(row - 2, 0) : row + 3, max(col - 2, 0) : col + 3] = False
        side = response[sidelobe]
        psr = (peak - float(side.mean())) / (float(side.std()) + 1e-6)
        return np.array([peak, ratio, psr])

    def score(self, features: np.ndarray) -> float:
        """Calibrated probability that the target is present (a logistic fit, see bench/siamfc_lost.py)."""
        weights = self.calibration
        logit = weights.bias + float(np.dot([weights.peak, weights.ratio, weights.psr], features))
        return float(1 / (1 + np.exp(-logit)))

    # ------------------------------------------------------------------------------------------------ helpers
    def _responses(self, search_feat: torch.Tensor) -> np.ndarray:
        """Coarse response maps (logits), (k, 17, 17) float32: one per exemplar scale or per search scale."""
        with self._stage("correlation"), torch.inference_mode():
            logits = self.net.head.all_pairs(self.exemplar_feat, search_feat)
            return logits.reshape(-1, self.response_size, self.response_size).float().cpu().numpy()

    # --------------------------------------------------------------------------------------- box regression
    def _pool(self, feat: torch.Tensor, boxes: np.ndarray, center, side: float) -> np.ndarray:
        """MDNet's RoIAlign features (ReLU, unit RMS) of frame ``boxes`` (N, 4) in the search crop of ``side`` frame
        pixels centred at ``center`` whose backbone features are ``feat`` (1, C, h, w): (N, 4608) float32."""
        scale = self.config.search_size / side
        x1y1 = (boxes[:, :2] - (np.asarray(center) - side / 2)) * scale
        rois = np.concatenate([np.zeros((len(boxes), 1)), x1y1, x1y1 + boxes[:, 2:] * scale], axis=1)
        with self._stage("bbreg"), torch.inference_mode():
            rois_t = torch.from_numpy(rois).float().to(feat.device)
            return MDNet.pool(feat.float().contiguous(memory_format=torch.channels_last), rois_t).cpu().numpy()

    def _fit_regressor(self, feat: torch.Tensor, box: np.ndarray, frame) -> BoxRegressor | None:
        """use_bbreg: the ridge regression from first-frame boxes around ``box`` (their features in the first
        search crop, ``feat``) to ``box``; the samples come from a fixed seed, so the tracker stays deterministic."""
        cfg = self.config
        boxes = regression_samples(np.random.default_rng(0), box, cfg, (frame.shape[1], frame.shape[0]))
        if len(boxes) < 10:  # a box the sampler cannot hit (a sliver at a corner): report SiamFC's boxes
            return None
        features = self._pool(feat, boxes, self.center, self.search_side)
        with self._stage("bbreg"):
            return BoxRegressor(cfg.bbreg_lambda, prior=self.regressor_prior).fit(features, boxes, box)

    def _regress(self, box: np.ndarray, feat: torch.Tensor, center, side: float) -> np.ndarray:
        """``box`` (x, y, w, h) refined by the regressor from its features in this frame's best search crop."""
        boxes = np.asarray(box, dtype=np.float64)[None]
        return self.regressor.predict(self._pool(feat, boxes, center, side), boxes)[0]

    def _update_scale(self, factor: float) -> None:
        """Scale the tracked size and regions by ``factor`` blended at scale_lr towards 1."""
        cfg = self.config
        scale = (1 - cfg.scale_lr) + cfg.scale_lr * factor
        # Size changes are uniform, so one ratio to the initial size says how far the scale has drifted.
        size_ratio = self.target_size[0] / self.initial_size[0]
        scale = float(np.clip(scale, cfg.min_scale / size_ratio, cfg.max_scale / size_ratio))
        self.target_size = self.target_size * scale
        self.exemplar_side *= scale
        self.search_side *= scale

    def _peak(self, response: np.ndarray) -> tuple[int, int]:
        """(row, col) of the peak in the upsampled response (the paper's bicubic x response_up, normalised to sum 1
        and blended with a cosine window), computed only where it can be: the window is found on the coarse map,
        then the 8x8 coarse cells around it are upsampled (a fifth of the full map's work)."""
        cfg = self.config
        influence = cfg.window_influence
        up, n = cfg.response_up, self.response_size
        shifted = response - response.min()
        # Bicubic upsampling keeps the mean, so the full upsampled map would sum to up^2 times the coarse sum.
        weight = (1 - influence) / (shifted.sum() * up * up + 1e-16)
        coarse = weight * shifted + influence * self.coarse_window
        r, c = np.unravel_index(int(np.argmax(coarse)), coarse.shape)
        # Upsampled pixels within 2 cells of (r, c) read source cells r-3 .. r+4 (cubic taps), all in the patch.
        r0, r1, c0, c1 = max(r - 3, 0), min(r + 5, n), max(c - 3, 0), min(c + 5, n)
        patch = cv2.resize(shifted[r0:r1, c0:c1], ((c1 - c0) * up, (r1 - r0) * up), interpolation=cv2.INTER_CUBIC)
        patch = weight * patch + influence * self.window[r0 * up : r1 * up, c0 * up : c1 * up]
        lo_r, hi_r = (r - 2 - r0) * up + up // 2, (r + 2 - r0) * up + up // 2 + 1
        lo_c, hi_c = (c - 2 - c0) * up + up // 2, (c + 2 - c0) * up + up // 2 + 1
        trusted = patch[max(lo_r, 0) : hi_r, max(lo_c, 0) : hi_c]
        pr, pc = np.unravel_index(int(np.argmax(trusted)), trusted.shape)
        return r0 * up + max(lo_r, 0) + int(pr), c0 * up + max(lo_c, 0) + int(pc)

    def _best_scale(self, responses: np.ndarray) -> int:
        if len(responses) == 1:  # one crop, one exemplar: nothing to choose
            return 0
        peaks = responses.reshape(len(responses), -1).max(axis=1)
        return int(np.argmax(peaks * self.scale_penalties))

    def _stage(self, name: str):
        return self.timer.stage(name) if self.timer is not None else _NO_TIMER


class _NoTimer:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NO_TIMER = _NoTimer()
