"""MDNet online tracking: fc layers fine-tuned from the first frame, candidates scored per frame.

Per frame: 256 Gaussian candidates around the last box are scored by the fc layers on features from one conv
pass over a search region (RoIAlign, RT-MDNet) or from one 107x107 crop per candidate (classic MDNet). The mean
of the top 5 is the new target, around which the next frame's candidates and this frame's training samples are
drawn; the first-frame box regressor refines it into the reported box only (as py-MDNet does: fed back, a biased
regressor compounds frame after frame). A best score below 0 is a failure: the search widens and a short-term
update runs; otherwise a long-term update runs every 10 frames. Sample memories are bounded deques of pooled
features, so memory stays constant on long videos. Optionally (``template_weight``) SiamFC's first-frame template,
correlated on the same conv pass, adds to the candidates' ranking; with ``motion_lr`` the region and the candidates
centre on the last box moved by a velocity learnt from successful frames (SiamFC's option of the same name). With
``failure_box`` a failed frame keeps the last size (or box) instead of the rejected candidates' mean. With
``color_weight`` a colour score joins the ranking: DAT's model of the target's colours against those of the
candidates that scored as the target off it (the look-alikes), the cue SiamFC's ``color_background`` option uses;
``color_foreground: contrast`` weighs a loose first box's background down in the target's colours. With
``bbreg_prior`` the first-frame box regression is fitted on top of one fitted offline across training videos
(``auto``: SiamFC's shipped one; MDNet's conv layers are that backbone).
"""

from __future__ import annotations

import copy
import warnings
from collections import deque
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F

from twintrack.configs import MDNetConfig
from twintrack.geometry import (
    clip_box,
    cxcywh_to_xywh,
    crop_and_resize,
    iou,
    jitter_boxes,
    sample_by_iou,
    uniform_boxes,
    xywh_to_cxcywh,
)
from twintrack.models.backbone import VGGM
from twintrack.models.mdnet import MDNet, cells_first_order, cells_first_weight
from twintrack.runtime import build_backbone_engine
from twintrack.tracker.base import TrackResult, check_frame, check_init_box
from twintrack.tracker.bbreg import BoxRegressor, load_prior, regression_samples
from twintrack.tracker.color_prior import COLOR_CROP, LookalikeColorModel
from twintrack.tracker.device_crop import crop_resize, upload_frame
from twintrack.tracker.template_prior import TemplatePrior
from twintrack.tracker.timing import StageTimer


def use_bf16(setting: bool | str, device: torch.device) -> bool:
    """The ``bf16`` config resolved: ``auto`` means bfloat16 only where it is a plain speed-up, CPUs with native
    bf16 units (AVX512-BF16 or AMX: conv pass 1.7x and fc4 2x faster on the 2-core reference machine); CPUs
    without them emulate it slower than fp32, and GPUs are fast enough in fp32.

    On ../shared/data/sot/val (seed 0) bf16 scored AUC 0.451 and fp32 0.457: within one seed's spread.
    """
    if setting != "auto":
        return bool(setting)
    if device.type != "cpu":
        return False
    # Private torch probes; a torch without them counts as a CPU without bf16 units.
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(probe is not None and probe() for probe in probes)


def use_int8_fc4(setting: bool | str, device: torch.device) -> bool:
    """The ``fc4_int8`` config resolved: ``auto`` means int8 on CPUs where torch has its x86 (fbgemm) quantized
    kernels; GPUs and other CPUs run fc4 in fp32 (or bf16, see ``use_bf16``)."""
    if setting != "auto":
        return bool(setting)
    engines = getattr(torch.backends.quantized, "supported_engines", [])
    return device.type == "cpu" and ("x86" in engines or "fbgemm" in engines)


class Int8Linear:
    """A fixed Linear layer as an int8 matrix product: weights quantized per output channel once, activations per
    batch on the fly (fbgemm's dynamic linear). fc4 is the tracker's largest product beside the conv pass (4608 x 512
    per box, ~500 boxes per frame): 2.5-3x faster than fp32 on an AVX512-VNNI CPU without bf16 units, outputs
    within about 1 % (relative norm) of fp32's.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        weight = weight.detach().float().cpu()
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127
        with warnings.catch_warnings():  # torch >= 2.10 flags quantized tensors as deprecated; the kernels remain
            warnings.simplefilter("ignore")
            qweight = torch.quantize_per_channel(weight, scale.double(), torch.zeros(len(scale), dtype=torch.long),
                                                 0, torch.qint8)
            self.packed = torch.ops.quantized.linear_prepack(qweight, bias.detach().float().cpu())

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        # reduce_range: 7-bit activations, so that CPUs without VNNI cannot overflow fbgemm's 16-bit sums.
        return torch.ops.quantized.linear_dynamic(inputs.float().contiguous(), self.packed, True)


class FeatureExtractor:
    """Pooled fc4-input features for many boxes of one frame, by either path."""

    def __init__(self, net: MDNet, config: MDNetConfig, device: torch.device, stage) -> None:
        self.net, self.config, self.device = net, config, device
        self.stage = stage  # the tracker's _stage: timed blocks when profiling
        # The conv pass at config.precision (twintrack/runtime: int8, bf16 or fp32); fc4 in bf16 where that pays.
        self.engine = build_backbone_engine(net.backbone, config.precision, device,
                                            int8_model=config.int8_model or None)
        self.bf16 = self.engine.matmul_dtype == torch.bfloat16
        # With fc4 fixed online the tracker applies it itself, with its weights reordered to the bin-major
        # order RoIAlign produces, which saves a transposing copy of every pooled batch. A trained-online fc4
        # runs inside the head and needs the standard channel-major order.
        self.cells_first = not config.online_fc4
        # Off the CPU, crops are cut on the device from the frame uploaded once (device_crop); on the CPU cv2 cuts
        # them (faster there, and what the shipped settings were measured with). Tests switch it on CPU.
        self.device_crops = device.type != "cpu"

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def region(self, frame: np.ndarray, around_box, avg_color, region_size: int | None = None) -> "RegionFeatures":
        """One conv pass over a square region centred on ``around_box``, scaled so its mean side is target_pixels;
        ``region_size`` pixels a side (default: the config's; larger for a re-detection at the same scale)."""
        cfg = self.config
        region_size = region_size or cfg.region_size
        cx, cy, w, h = xywh_to_cxcywh(np.asarray(around_box, dtype=np.float64))
        scale = cfg.target_pixels / np.sqrt(w * h)  # region pixels per frame pixel
        side = region_size / scale
        device_frame = None
        with self.stage("crop"):
            if not self.device_crops:
                crop = crop_and_resize(frame, (cx, cy), side, region_size, avg_color)
                # HWC pixels seen as NCHW are already channels_last: no copy before the conv.
                tensor = torch.from_numpy(crop).to(self.device).permute(2, 0, 1)[None].float()
            else:  # the frame goes up once; the region (and the crop path's boxes) are cut there
                device_frame = upload_frame(frame, self.device)
                tensor = crop_resize(device_frame, [(cx, cy)], [side], region_size, avg_color)
        # no_grad, not inference_mode: pooled features become training inputs of the online updates.
        with self.stage("conv"):
            # RoIAlign reads the map's cells as rows of channels: channels_last once here, not once per pool()
            # (a no-op for the torch engines; the int8 engine returns ONNX Runtime's NCHW).
            feature_map = self.engine(tensor).contiguous(memory_format=torch.channels_last)
        origin = np.array([cx - side / 2, cy - side / 2])
        return RegionFeatures(self, frame, feature_map, origin, scale, avg_color, device_frame, side)


def centres_px(boxes: np.ndarray, region) -> np.ndarray:
    """(N, 2) pixels (x, y) in ``region`` (its origin and scale) of the centres of (N, 4) frame boxes."""
    return (boxes[:, :2] + boxes[:, 2:] / 2 - region.origin) * region.scale


class RegionFeatures:
    def __init__(self, extractor, frame, feature_map, origin, scale, avg_color, device_frame=None,
                 side: float | None = None) -> None:
        self.extractor, self.frame, self.feature_map = extractor, frame, feature_map
        self.origin, self.scale, self.avg_color = origin, scale, avg_color
        self.side = side  # the region's side in frame pixels
        self.device_frame = device_frame  # the frame on the device (device_crop.upload_frame) with device_crops

    def pool(self, boxes: np.ndarray) -> torch.Tensor:
        with self.extractor.stage("pool"):
            return self._pool(boxes)

    def _pool(self, boxes: np.ndarray) -> torch.Tensor:
        if self.extractor.config.feature_path == "crop":
            return self._crop_pool(boxes)
        x1y1 = (boxes[:, :2] - self.origin) * self.scale
        x2y2 = x1y1 + boxes[:, 2:] * self.scale
        rois = np.concatenate([np.zeros((len(boxes), 1)), x1y1, x2y2], axis=1)
        rois_t = torch.from_numpy(rois).float().to(self.extractor.device)
        with torch.no_grad():
            return self.extractor.net.pool(self.feature_map, rois_t, cells_first=self.extractor.cells_first)

    def _crop_pool(self, boxes: np.ndarray, chunk: int = 128) -> torch.Tensor:
        cfg = self.extractor.config
        # py-MDNet's crop: the box plus `crop_padding` pixels of context on each side of the 107 crop.
        context = cfg.crop_size / (cfg.crop_size - 2 * cfg.crop_padding)
        out = []
        for start in range(0, len(boxes), chunk):
            part = boxes[start : start + chunk]
            if self.device_frame is not None:  # one grid_sample for the chunk's crops, from the uploaded frame
                tensor = crop_resize(self.device_frame, part[:, :2] + part[:, 2:] / 2, part[:, 2:] * context,
                                     cfg.crop_size, self.avg_color)
            else:
                crops = [
                    crop_and_resize(self.frame, b[:2] + b[2:] / 2, (b[2] * context, b[3] * context), cfg.crop_size,
                                    self.avg_color)
                    for b in part
                ]
                tensor = torch.from_numpy(np.stack(crops)).to(self.extractor.device).permute(0, 3, 1, 2).float()
            with torch.no_grad(), self.extractor._autocast():
                out.append(self.extractor.net.crop_pool(tensor, cells_first=self.extractor.cells_first).float())
        return torch.cat(out)


LOOKALIKE_COLOR_RATE = 0.5  # the look-alikes' colours follow each found frame's at this rate (SiamFC's distractor_lr)
LOOKALIKE_COLOR_MAX = 4  # look-alike candidates per frame whose colours are learnt (SiamFC's distractor_max)
COAST_LR = 0.5  # failure_box coast without motion_lr: the velocity follows each successful frame's at this rate


def lookalike_indices(candidates: np.ndarray, scores: np.ndarray, target: np.ndarray, max_iou: float,
                      count: int) -> list[int]:
    """Up to ``count`` candidates scored above 0 (as the target) that overlap ``target`` less than ``max_iou`` (a
    negative's), highest first: the look-alikes."""
    off_target = iou(candidates, target) < max_iou
    return [i for i in np.argsort(-scores) if off_target[i] and scores[i] > 0][:count]


class MDNetTracker:
    name = "mdnet"

    def __init__(self, net: MDNet, config: MDNetConfig, device: torch.device, seed: int | None = None) -> None:
        self.config = config
        self.device = device
        self.seed = seed
        # An inference copy: BN folding and online fc training must not change the caller's network (a trainer
        # validating its own model, two trackers built from one net).
        net = copy.deepcopy(net)
        net.backbone.eval()
        # The extractor's engine is built from the backbone as loaded: it folds BatchNorm once in its own copy (the
        # conv layers stay fixed online) and finds the int8 calibration by the weights' fingerprint, which folding
        # would change. channels_last: oneDNN's fastest conv layout on CPU (about 1.5x here, as for SiamFC), and
        # RoIAlign then reads the feature map's cells as contiguous rows without a copy.
        net.backbone.to(memory_format=torch.channels_last)
        self.net = net.to(device)
        self.extractor = FeatureExtractor(self.net, config, device, self._stage)
        self.regressor_prior = self._load_regressor_prior(config, self.net.backbone)
        self.timer: StageTimer | None = None  # attach a StageTimer to see where the time goes (bench/speed.py)
        # fc4-fc6 as trained offline: every init() restarts from these, so videos do not leak into each other.
        self._head_state = {k: v.clone() for k, v in self.net.head.state_dict().items()}
        self.initialised = False

    # ---------------------------------------------------------------------------------------------------- api
    def init(self, frame, box) -> None:
        frame = check_frame(frame)
        box = check_init_box(box, frame)
        cfg = self.config
        seed = self.seed if self.seed is not None else 0
        self.rng = np.random.default_rng(seed)
        self.torch_gen = torch.Generator(device="cpu").manual_seed(seed)  # dropout masks of online training
        self.frame_wh = (frame.shape[1], frame.shape[0])
        self.avg_color = frame.reshape(-1, 3).mean(axis=0)
        self.target = box.copy()
        self.velocity = np.zeros(2)  # smoothed centre displacement per successful frame (motion_lr, coast; pixels)
        self.trans = cfg.trans
        self.frame_index = 0
        self._reset_head()
        # fc4 stays as loaded during a video when it is not trained online: reorder its weights once per video.
        fc4 = self.net.head.fc4[0]
        self._fc4_weight = self._fc4_bias = self._fc4_int8 = None
        if self.extractor.cells_first:
            if use_int8_fc4(cfg.fc4_int8, self.device):
                self._fc4_int8 = Int8Linear(cells_first_weight(fc4.weight.detach()), fc4.bias)
            else:
                # bf16: fc4's product in bfloat16 too (it is as large as the conv pass: 1.2 GMAC per frame).
                dtype = torch.bfloat16 if self.extractor.bf16 else torch.float32
                self._fc4_weight = cells_first_weight(fc4.weight.detach()).to(dtype)
                self._fc4_bias = fc4.bias.detach().to(dtype)

        self.failures = 0  # consecutive frames whose best score was below 0
        self.raw_score = None  # the last update's fc6 score (positive minus negative logit), before calibration
        region = self.extractor.region(frame, box, self.avg_color)
        # The region is centred on the box: the target's centre is the region's centre. SiamFC's first-frame
        # template ranks candidates (template_weight) and finds re-detection candidates (redetect_samples).
        use_template = (cfg.template_weight > 0 or cfg.redetect_samples > 0 or cfg.template_samples > 0
                        or cfg.update_min_template > 0)
        self.template = TemplatePrior(region.feature_map, cfg.region_size / 2) if use_template else None
        self.color_model = None
        if cfg.color_weight > 0:
            crop, factor = self._color_view(frame, region)
            self.color_model = LookalikeColorModel(crop, self._in_color_crop(box[None], region, factor)[0],
                                                   foreground=cfg.color_foreground)
        with self._stage("sampling"):
            pos_boxes = sample_by_iou(self.rng, jitter_boxes, box, cfg.n_pos_init, (cfg.pos_iou_init_min, 1.0),
                                      translate=0.1, scale=cfg.pos_scale, frame_wh=self.frame_wh)
            neg_boxes = np.concatenate([
                sample_by_iou(self.rng, uniform_boxes, box, cfg.n_neg_init // 2, (0.0, cfg.neg_iou_init_max),
                              translate=cfg.trans_neg_init, scale=cfg.scale_neg, frame_wh=self.frame_wh),
                sample_by_iou(self.rng, uniform_boxes, box, cfg.n_neg_init - cfg.n_neg_init // 2,
                              (0.0, cfg.neg_iou_init_max), translate=2 * cfg.trans_neg_init, scale=cfg.scale_neg,
                              frame_wh=self.frame_wh),
            ])
        inputs = self._inputs(region.pool(np.concatenate([pos_boxes, neg_boxes])))
        pos_feat, neg_feat = inputs[: len(pos_boxes)], inputs[len(pos_boxes) :]
        with self._stage("train"):
            self.init_losses = self._train(pos_feat, neg_feat, cfg.maxiter_init, self.init_optimizer)

        self.regressor = None
        if cfg.use_bbreg:
            with self._stage("sampling"):
                reg_boxes = regression_samples(self.rng, box, cfg, self.frame_wh)
            if len(reg_boxes) >= 10:
                reg_feat = region.pool(reg_boxes).float().cpu().numpy()
                with self._stage("bbreg"):
                    regressor = BoxRegressor(cfg.bbreg_lambda, prior=self.regressor_prior)
                    self.regressor = regressor.fit(reg_feat, reg_boxes, box)

        # Bounded memories: positives of the last n_frames_long frames, negatives of the last n_frames_short.
        # With keep_first_pos the first frame's positives are kept apart, in every update: the one sure view of
        # the target, which no run of frames with an occluder in the box can push out of the memory.
        self.anchor_pos = pos_feat[: cfg.n_pos_update] if cfg.keep_first_pos else None
        self.pos_memory = deque([] if cfg.keep_first_pos else [pos_feat[: cfg.n_pos_update]],
                                maxlen=cfg.n_frames_long)
        self.neg_memory = deque([neg_feat[: cfg.n_neg_update]], maxlen=cfg.n_frames_short)
        self.initialised = True

    def update(self, frame) -> TrackResult:
        if not self.initialised:
            raise RuntimeError("call init(frame, box) before update(frame)")
        frame = check_frame(frame)
        cfg = self.config
        self.frame_index += 1
        # After a failure the search widens (trans, below) and, with redetect_region, the conv pass covers a larger
        # region at the same scale, so candidates far from the last box get real features instead of the border's.
        redetect = self.failures > 0 and cfg.redetect_region > cfg.region_size
        # The motion model's guess (motion_lr; the last box when off): where the region and the candidates centre.
        predicted = self.target if cfg.motion_lr == 0 or not self.velocity.any() else self._moved_on(self.target)
        region = self.extractor.region(frame, predicted, self.avg_color,
                                       cfg.redetect_region if redetect else cfg.region_size)
        with self._stage("sampling"):
            candidates = jitter_boxes(self.rng, predicted, cfg.n_samples, self.trans, cfg.scale, self.frame_wh)
            # SiamFC's template proposes where to look: after a failure (redetect_samples) or on every frame
            # (template_samples); MDNet's classifier still decides among all candidates.
            n_template = max(cfg.template_samples, cfg.redetect_samples if self.failures > 0 else 0)
            # The template's response on this frame, once, for its proposals, its ranking term and the two gates.
            recovering = self.failures > 0 and cfg.recover_min_template > 0
            response = (self.template.response(region.feature_map)
                        if n_template > 0 or cfg.template_weight > 0 or cfg.update_min_template > 0 or recovering
                        else None)
            if n_template > 0:
                candidates = np.concatenate([candidates, self._template_candidates(response, region, n_template)])
        cand_pooled = region.pool(candidates)
        cand_inputs = self._inputs(cand_pooled)
        with self._stage("scoring"):
            scores = self._scores(cand_inputs)
            ranking = scores
            if cfg.template_weight > 0:
                ranking = scores + cfg.template_weight * self.template.at(response, centres_px(candidates, region))
        color_view = None  # the colour crop, cut once per frame and only where the term or its learning reads it
        if self.color_model is not None and self.color_model.active:
            color_view = self._color_view(frame, region)
            ranking = ranking + self._color_term(color_view, region, candidates, scores)
        top = np.argsort(-ranking)[: cfg.top_k]
        target_score = float(scores[top].mean())
        self.raw_score = target_score
        top_mean = candidates[top].mean(axis=0)
        success = target_score > 0
        if success and recovering:  # the first template must agree before a lost target counts as found again
            success = self._template_response_at(top_mean, response, region) >= cfg.recover_min_template
        self.failures = 0 if success else self.failures + 1
        previous = self.target
        self.target = self._next_target(top_mean, success)
        result_box = self.target
        if cfg.motion_lr > 0 or cfg.failure_box == "coast":
            self._learn_velocity(previous, success)
        if success:
            self.trans = cfg.trans
            if self.regressor is not None:
                with self._stage("bbreg"):
                    top_feat = cand_pooled[top].float().cpu().numpy()
                    refined = self.regressor.predict(top_feat, candidates[top]).mean(axis=0)
                result_box = clip_box(refined, *self.frame_wh, min_size=4)
                if cfg.bbreg_feedback:
                    self.target = result_box
        else:
            self.trans = min(self.trans * 1.1, cfg.trans_limit)

        # Learn only from frames the classifier is sure of (update_min_score): a partly occluded target scores
        # just above 0, and samples drawn there teach the occluder as the target. update_min_template asks the
        # first frame's template instead, which online learning cannot have taught to like the occluder.
        if success and target_score > cfg.update_min_score and self._template_agrees(response, region):
            with self._stage("sampling"):
                pos_boxes = sample_by_iou(self.rng, jitter_boxes, self.target, cfg.n_pos_update,
                                          (cfg.pos_iou_update_min, 1.0), translate=0.1, scale=cfg.pos_scale,
                                          frame_wh=self.frame_wh)
                neg_boxes = sample_by_iou(self.rng, uniform_boxes, self.target, cfg.n_neg_update,
                                          (0.0, cfg.neg_iou_update_max), translate=cfg.trans_neg,
                                          scale=cfg.scale_neg, frame_wh=self.frame_wh)
            if len(pos_boxes) and len(neg_boxes):
                # One pool and one fc4 for both sets: fewer, larger matrix products.
                inputs = self._inputs(region.pool(np.concatenate([pos_boxes, neg_boxes])))
                negatives = inputs[len(pos_boxes) :]
                if cfg.lookalike_negatives > 0:
                    negatives = torch.cat([negatives, self._lookalikes(candidates, scores, cand_inputs)])
                self.pos_memory.append(inputs[: len(pos_boxes)])
                self.neg_memory.append(negatives)

        if success and self.color_model is not None:
            self._learn_lookalike_colors(color_view or self._color_view(frame, region), region, candidates, scores)

        if not success:  # short-term update: the recent frames only
            with self._stage("train"):
                self._train(self._positives(cfg.n_frames_short), torch.cat(list(self.neg_memory)),
                            cfg.maxiter_update, self.update_optimizer)
        elif self.frame_index % cfg.long_interval == 0:  # long-term update: all remembered positives
            with self._stage("train"):
                self._train(self._positives(), torch.cat(list(self.neg_memory)), cfg.maxiter_update,
                            self.update_optimizer)

        # A frame the recovery gate refused reports at most a zero fc6 score's probability, as any failed frame.
        score = self.calibrated(target_score if success else min(target_score, 0.0))
        return TrackResult(box=result_box.copy(), score=score, lost=score < 0.5)

    def _next_target(self, top_mean: np.ndarray, success: bool) -> np.ndarray:
        """The new target from the top-k candidates' mean box. On a failed frame (failure_box) the mean is of
        candidates the classifier rejects: its size drifts at random frame after frame (an occluded target comes back
        at a size it never had), so hold_size keeps the last size and hold_box the whole last box; coast keeps the
        size and moves the box on at the velocity of the last successful frames, as a target behind an occluder
        does."""
        mode = self.config.failure_box
        if success or mode == "move":
            return self._smoothed(top_mean)
        if mode == "hold_box":
            return self.target.copy()
        if mode == "coast":
            return self._moved_on(self.target)
        held_size = cxcywh_to_xywh(np.concatenate([xywh_to_cxcywh(top_mean)[:2], self.target[2:]]))
        return clip_box(held_size, *self.frame_wh, min_size=4)

    def _moved_on(self, box: np.ndarray) -> np.ndarray:
        """``box`` moved by the velocity (motion_lr's prediction, coast's failed frames), kept in the frame."""
        return clip_box(box + np.concatenate([self.velocity, [0.0, 0.0]]), *self.frame_wh, min_size=4)

    def _learn_velocity(self, previous: np.ndarray, success: bool) -> None:
        """Blend the target's centre displacement since ``previous`` into the velocity (motion_lr, or COAST_LR for
        coast alone). Learnt from successful frames only: a failure's box is not the target's motion. A failure
        resets it (the search should not run on after a target that may have stopped), except while coasting."""
        cfg = self.config
        if success:
            rate = cfg.motion_lr if cfg.motion_lr > 0 else COAST_LR
            moved = xywh_to_cxcywh(self.target)[:2] - xywh_to_cxcywh(previous)[:2]
            self.velocity = (1 - rate) * self.velocity + rate * moved
        elif cfg.failure_box != "coast":
            self.velocity = np.zeros(2)

    def _smoothed(self, box: np.ndarray) -> np.ndarray:
        """``box``'s centre with a size that moves only size_lr of the way from the last target's to ``box``'s:
        the top-k candidates' mean size is noisy from frame to frame (too large on some targets, too small on
        others), as SiamFC's scale estimate is, which SiamFC smooths the same way (scale_lr)."""
        lr = self.config.size_lr
        if lr < 1:
            centre = box[:2] + box[2:] / 2
            size = (1 - lr) * self.target[2:] + lr * box[2:]
            box = np.concatenate([centre - size / 2, size])
        return clip_box(box, *self.frame_wh, min_size=4)

    def calibrated(self, raw_score: float) -> float:
        """The probability that the target is present and tracked: a logistic map of fc6's raw score, fitted on
        training sequences (score_scale, score_shift; bench/calibrate.py). 0.5 separates present from lost."""
        cfg = self.config
        return float(1 / (1 + np.exp(-(cfg.score_scale * raw_score + cfg.score_shift))))

    # --------------------------------------------------------------------------------------------- internals
    def _positives(self, last_frames: int | None = None) -> torch.Tensor:
        """Remembered positives (of the last ``last_frames`` frames), with the first frame's kept apart."""
        recent = list(self.pos_memory)[-last_frames:] if last_frames else list(self.pos_memory)
        anchor = [self.anchor_pos] if self.anchor_pos is not None else []
        return torch.cat(anchor + recent)

    def _lookalikes(self, candidates, scores, cand_inputs) -> torch.Tensor:
        """Candidates that score as the target but lie off it: the distractors to learn as negatives."""
        ranked = lookalike_indices(candidates, scores, self.target, self.config.neg_iou_update_max,
                                   self.config.lookalike_negatives)
        return cand_inputs[torch.as_tensor(np.array(ranked, dtype=np.int64))]

    # ---------------------------------------------------------------------------------- option: colour model
    def _color_view(self, frame, region) -> tuple[np.ndarray, float]:
        """The region's square of the frame at COLOR_CROP pixels, and the crop's pixels per frame pixel."""
        centre = region.origin + region.side / 2
        with self._stage("color"):
            crop = crop_and_resize(frame, centre, region.side, COLOR_CROP, self.avg_color)
        return crop, COLOR_CROP / region.side

    @staticmethod
    def _in_color_crop(boxes: np.ndarray, region, factor: float) -> np.ndarray:
        """(N, 4) frame boxes as colour-crop boxes."""
        return np.concatenate([(boxes[:, :2] - region.origin) * factor, boxes[:, 2:] * factor], axis=1)

    def _color_term(self, color_view, region, candidates, scores) -> np.ndarray:
        """color_weight x the scores' range x the mean colour probability of a target-sized box at each candidate's
        centre, scaled by how much the best box stands out from the region's mean (0 where the target's colours
        fill the region), as SiamFC's colour cue."""
        crop, factor = color_view
        with self._stage("color"):
            probability = self.color_model.pixel_map(crop)
            boxes = self._in_color_crop(candidates, region, factor)
            color = self.color_model.box_scores(probability, boxes[:, :2] + boxes[:, 2:] / 2, self.target[2:] * factor)
            best = float(color.max())
            gate = max(best - float(probability.mean()), 0.0) / max(best, 1e-6)
            spread = float(scores.max() - scores.min())
        return self.config.color_weight * gate * spread * color

    def _learn_lookalike_colors(self, color_view, region, candidates, scores) -> None:
        """After a found frame: the colours of the candidates that scored as the target off it join the model's
        look-alikes (the first ones seen turn the colour term on)."""
        ranked = lookalike_indices(candidates, scores, self.target, self.config.neg_iou_update_max,
                                   LOOKALIKE_COLOR_MAX)
        if not ranked:
            return
        crop, factor = color_view
        with self._stage("color"):
            self.color_model.add_lookalikes(crop, self._in_color_crop(self.target[None], region, factor)[0],
                                            self._in_color_crop(candidates[ranked], region, factor),
                                            LOOKALIKE_COLOR_RATE)

    def _template_agrees(self, response, region) -> bool:
        """Whether the template's response at the target's centre reaches update_min_template (always, when that
        is 0)."""
        threshold = self.config.update_min_template
        if threshold <= 0:
            return True
        return self._template_response_at(self.target, response, region) >= threshold

    def _template_response_at(self, box: np.ndarray, response, region) -> float:
        """The template's response (scaled to [0, 1] per frame) at ``box``'s centre."""
        return float(self.template.at(response, centres_px(box[None], region))[0])

    def _template_candidates(self, response: np.ndarray, region, count: int) -> np.ndarray:
        """Boxes of the target's size around the peak of ``response``, SiamFC's first-frame template correlated with
        this region's map (never updated online, so an occluder or a drifted classifier cannot move it)."""
        cfg = self.config
        row, col = np.unravel_index(int(np.argmax(response)), response.shape)
        peak_px = self.template.cell0_px + VGGM.total_stride * np.array([col, row], dtype=np.float64)
        centre = region.origin + peak_px / region.scale
        box = np.concatenate([centre - self.target[2:] / 2, self.target[2:]])
        return jitter_boxes(self.rng, box, count, cfg.trans, cfg.scale, self.frame_wh)

    def _reset_head(self) -> None:
        """A new fc6 branch for this video; fc4/fc5 restart from the trained weights (kept in _head_state)."""
        cfg = self.config
        head = self.net.head
        head.load_state_dict(self._head_state)
        branch = head.branches[0]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed if self.seed is not None else 0)
            torch.nn.init.normal_(branch.weight, std=0.01)
            torch.nn.init.zeros_(branch.bias)

        def optimizer(lr):
            shared = list(head.fc5.parameters()) + (list(head.fc4.parameters()) if cfg.online_fc4 else [])
            groups = [
                {"params": shared, "lr": lr},
                {"params": branch.parameters(), "lr": lr * cfg.fc6_lr_mult},
            ]
            return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)

        self.init_optimizer = optimizer(cfg.lr_init)
        self.update_optimizer = optimizer(cfg.lr_update)

    def _load_regressor_prior(self, config: MDNetConfig, backbone) -> BoxRegressor | None:
        """bbreg_prior's offline regression, in the order the extractor pools (cells first with fc4 fixed online).
        auto: SiamFC's shipped one, fitted on RoIAlign features of a 255-pixel crop at 64 pixels a target (MDNet's
        region), where ``backbone`` is the shipped one; the crop path's 107-pixel crops are other features."""
        if config.bbreg_prior == "auto" and config.feature_path != "roi":
            return None
        prior = load_prior(config, backbone)
        if prior is not None and self.extractor.cells_first:
            prior = prior.reordered(cells_first_order(len(prior.mean)))
        return prior

    def _stage(self, name: str):
        """A block timed into ``self.timer`` when one is attached; otherwise a no-op costing well under 1 us."""
        return self.timer.stage(name) if self.timer is not None else nullcontext()

    @property
    def _in_layer(self) -> str:
        return "fc4" if self.config.online_fc4 else "fc5"

    def _inputs(self, pooled: torch.Tensor) -> torch.Tensor:
        """What online training and scoring start from: pooled features, or (fc4 fixed online) fc4's outputs,
        computed once per sample instead of once per iteration: 9x less work per step and per remembered sample.
        """
        if self.config.online_fc4:
            return pooled
        with self._stage("fc4"), torch.no_grad():
            if self._fc4_int8 is not None:
                return self._fc4_int8(pooled).relu_()
            # fc4 (Linear + ReLU) on bin-major pooled features, with the weights reordered to match.
            inputs = pooled.to(self.device, self._fc4_weight.dtype)
            return F.linear(inputs, self._fc4_weight, self._fc4_bias).float().relu_()

    def _scores(self, inputs: torch.Tensor) -> np.ndarray:
        self.net.head.eval()
        with torch.inference_mode():
            logits = self.net.classify(inputs.to(self.device), in_layer=self._in_layer)
        return (logits[:, 1] - logits[:, 0]).float().cpu().numpy()

    def _train(self, pos_feat: torch.Tensor, neg_feat: torch.Tensor, iterations: int, optimizer) -> list[float]:
        """Fine-tune fc4-fc6: 32 positives and the 96 hardest of 1024 negatives per step (hard negative mining)."""
        cfg = self.config
        head = self.net.head
        pos_order = self._cycle(len(pos_feat), cfg.batch_pos * iterations)
        neg_order = self._cycle(len(neg_feat), cfg.batch_neg_cand * iterations)
        losses = []
        for it in range(iterations):
            pos = pos_feat[pos_order[it * cfg.batch_pos : (it + 1) * cfg.batch_pos]]
            neg_cand = neg_feat[neg_order[it * cfg.batch_neg_cand : (it + 1) * cfg.batch_neg_cand]]
            hard = np.argsort(-self._scores(neg_cand))[: cfg.batch_neg]
            neg = neg_cand[torch.from_numpy(hard.copy())]
            # Positives and negatives in one batch: half the dropout and linear calls of two batches.
            batch = torch.cat([pos, neg]).to(self.device)
            labels = torch.cat([torch.ones(len(pos), dtype=torch.long), torch.zeros(len(neg), dtype=torch.long)])
            head.train()  # dropout masks from our seeded generator: repeatable, global RNG untouched
            logits = self.net.classify(batch, in_layer=self._in_layer, generator=self.torch_gen)
            # py-MDNet's loss: cross-entropy of positives as target plus that of negatives as background, over the
            # step's samples.
            loss = F.cross_entropy(logits, labels.to(self.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 10.0)
            optimizer.step()
            losses.append(float(loss.detach()))
        head.eval()
        return losses

    def _cycle(self, n: int, total: int) -> np.ndarray:
        """Indices that walk through shuffled permutations of range(n) until ``total`` are drawn."""
        reps = int(np.ceil(total / max(n, 1)))
        return np.concatenate([self.rng.permutation(n) for _ in range(reps)])[:total]
