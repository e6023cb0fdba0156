"""MDNet online tracking: fc layers fine-tuned from the first frame, candidates scored per frame.

Per frame: 256 Gaussian candidates around the last box are scored by the fc layers on features from one conv
pass over a search region (RoIAlign, RT-MDNet) or from one 107x107 crop per candidate (classic MDNet). The mean
of the top 5 is the new target, around which the next frame's candidates and this frame's training samples are
drawn; the first-frame box regressor refines it into the reported box only (as py-MDNet does: fed back, a biased
regressor compounds frame after frame). A best score below 0 is a failure: the search widens, the next conv pass
covers a larger region (``redetect_region``) with extra candidates around the peak of SiamFC's first-frame template
on that pass (``redetect_samples``), and a short-term update runs; otherwise a long-term update runs every 10
frames. fc4 stays as trained offline and its outputs are cached, so online training tunes fc5 and fc6 only. Sample
memories are bounded deques of fc4 outputs, so memory stays constant on long videos.
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
from twintrack.errors import UserError
from twintrack.geometry import (
    clip_box,
    crop_and_resize,
    jitter_boxes,
    sample_by_iou,
    uniform_boxes,
    xywh_to_cxcywh,
)
from twintrack.models.backbone import VGGM
from twintrack.models.mdnet import MDNet, cells_first_weight
from twintrack.runtime import build_backbone_engine
from twintrack.tracker.base import TrackResult, check_frame, check_init_box
from twintrack.tracker.bbreg import BoxRegressor, sample_regression_boxes
from twintrack.tracker.device_crop import crop_resize, upload_frame
from twintrack.tracker.template_prior import TemplatePrior
from twintrack.tracker.timing import StageTimer
from twintrack.weights import shipped_calibration

CROP_SIZE = 107  # the crop path's input side (MDNet's)
CROP_PADDING = 16.0  # the crop path's context, in pixels of the 107 crop on each side (py-MDNet's padding)
# The first-frame regression's samples: sizes 1.05 ** U(-3, 3), no aspect change (py-MDNet: 1.6 ** U(-1, 1), aspect
# 1.1 ** U(-1, 1), which scored lower here).
BBREG_SCALE = 3.0
BBREG_ASPECT = 1.0


def use_int8_fc4(setting: bool | str, device: torch.device) -> bool:
    """The ``fc4_int8`` config resolved: ``auto`` means int8 on CPUs where torch has its x86 (fbgemm) quantized
    kernels; GPUs and other CPUs run fc4 in fp32 (or bf16 where the conv pass does)."""
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
    """Pooled fc4-input features for many boxes of one frame, by either path, in bin-major order (the order RoIAlign
    produces: no transposing copy per pooled batch; the tracker reorders fc4's weights to match)."""

    def __init__(self, net: MDNet, config: MDNetConfig, device: torch.device, stage) -> None:
        self.net, self.config, self.device = net, config, device
        self.stage = stage  # the tracker's _stage: timed blocks when profiling
        # The conv pass at config.precision (twintrack/runtime: int8, bf16 or fp32); fc4 in bf16 where that pays.
        self.engine = build_backbone_engine(net.backbone, config.precision, device,
                                            int8_model=config.int8_model or None)
        self.bf16 = self.engine.matmul_dtype == torch.bfloat16
        # Off the CPU, crops are cut on the device from the frame uploaded once (device_crop); on the CPU cv2 cuts
        # them (faster there). Tests switch it on CPU.
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
        return RegionFeatures(self, frame, feature_map, origin, scale, avg_color, device_frame)


class RegionFeatures:
    def __init__(self, extractor, frame, feature_map, origin, scale, avg_color, device_frame=None) -> None:
        self.extractor, self.frame, self.feature_map = extractor, frame, feature_map
        self.origin, self.scale, self.avg_color = origin, scale, avg_color
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
            return self.extractor.net.pool(self.feature_map, rois_t, cells_first=True)

    def _crop_pool(self, boxes: np.ndarray, chunk: int = 128) -> torch.Tensor:
        # py-MDNet's crop: the box plus CROP_PADDING pixels of context on each side of the 107 crop.
        context = CROP_SIZE / (CROP_SIZE - 2 * CROP_PADDING)
        out = []
        for start in range(0, len(boxes), chunk):
            part = boxes[start : start + chunk]
            if self.device_frame is not None:  # one grid_sample for the chunk's crops, from the uploaded frame
                tensor = crop_resize(self.device_frame, part[:, :2] + part[:, 2:] / 2, part[:, 2:] * context,
                                     CROP_SIZE, self.avg_color)
            else:
                crops = [
                    crop_and_resize(self.frame, b[:2] + b[2:] / 2, (b[2] * context, b[3] * context), CROP_SIZE,
                                    self.avg_color)
                    for b in part
                ]
                tensor = torch.from_numpy(np.stack(crops)).to(self.extractor.device).permute(0, 3, 1, 2).float()
            with torch.no_grad(), self.extractor._autocast():
                out.append(self.extractor.net.crop_pool(tensor, cells_first=True).float())
        return torch.cat(out)


class MDNetTracker:
    name = "mdnet"

    def __init__(self, net: MDNet, config: MDNetConfig, device: torch.device, seed: int | None = None,
                 calibration: dict[str, float] | None = None) -> None:
        """``calibration``: the lost-target map fitted for ``net`` (its weights file's metadata: scale, shift);
        None: the shipped weights'."""
        self.config = config
        values = calibration or shipped_calibration("mdnet")
        try:
            self.score_scale, self.score_shift = float(values["scale"]), float(values["shift"])
        except KeyError as err:
            raise UserError(f"MDNet's lost-target calibration lacks '{err.args[0]}'; refit it with "
                            "bench/calibrate.py") from None
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
        self.trans = cfg.trans
        self.frame_index = 0
        self._reset_head()
        self._prepare_fc4()

        self.failures = 0  # consecutive frames whose best score was below 0
        self.raw_score = None  # the last update's fc6 score (positive minus negative logit), before calibration
        region = self.extractor.region(frame, box, self.avg_color)
        # The region is centred on the box, so the target's centre is the region's centre: SiamFC's first-frame
        # template (its exemplar's cells of this map) proposes the re-detection's candidates.
        self.template = TemplatePrior(region.feature_map, cfg.region_size / 2) if cfg.redetect_samples > 0 else None
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
                reg_boxes = sample_regression_boxes(self.rng, box, cfg.n_bbreg, cfg.bbreg_iou_min, BBREG_SCALE,
                                                    BBREG_ASPECT, self.frame_wh)
            if len(reg_boxes) >= 10:
                reg_feat = region.pool(reg_boxes).float().cpu().numpy()
                with self._stage("bbreg"):
                    self.regressor = BoxRegressor(cfg.bbreg_lambda).fit(reg_feat, reg_boxes, box)

        # Bounded memories: positives of the last n_frames_long frames, negatives of the last n_frames_short.
        self.pos_memory = deque([pos_feat[: cfg.n_pos_update]], maxlen=cfg.n_frames_long)
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
        region = self.extractor.region(frame, self.target, self.avg_color,
                                       cfg.redetect_region if redetect else cfg.region_size)
        with self._stage("sampling"):
            candidates = jitter_boxes(self.rng, self.target, cfg.n_samples, self.trans, cfg.scale, self.frame_wh)
            # After a failure SiamFC's first-frame template proposes where to look as well; MDNet's classifier still
            # decides among all candidates.
            if self.failures > 0 and cfg.redetect_samples > 0:
                response = self.template.response(region.feature_map)
                candidates = np.concatenate([candidates,
                                             self._template_candidates(response, region, cfg.redetect_samples)])
        cand_pooled = region.pool(candidates)
        cand_inputs = self._inputs(cand_pooled)
        with self._stage("scoring"):
            scores = self._scores(cand_inputs)
        top = np.argsort(-scores)[: cfg.top_k]
        target_score = float(scores[top].mean())
        self.raw_score = target_score
        success = target_score > 0
        self.failures = 0 if success else self.failures + 1
        self.target = clip_box(candidates[top].mean(axis=0), *self.frame_wh, min_size=4)
        result_box = self.target
        if success:
            self.trans = cfg.trans
            if self.regressor is not None:  # the reported box; the next frame samples around the top-k mean
                with self._stage("bbreg"):
                    top_feat = cand_pooled[top].float().cpu().numpy()
                    refined = self.regressor.predict(top_feat, candidates[top]).mean(axis=0)
                result_box = clip_box(refined, *self.frame_wh, min_size=4)
            self._remember(region)
        else:
            self.trans = min(self.trans * 1.1, cfg.trans_limit)

        if not success:  # short-term update: the recent frames only
            with self._stage("train"):
                self._train(self._positives(cfg.n_frames_short), torch.cat(list(self.neg_memory)),
                            cfg.maxiter_update, self.update_optimizer)
        elif self.frame_index % cfg.long_interval == 0:  # long-term update: all remembered positives
            with self._stage("train"):
                self._train(self._positives(), torch.cat(list(self.neg_memory)), cfg.maxiter_update,
                            self.update_optimizer)

        score = self.calibrated(target_score)
        return TrackResult(box=result_box.copy(), score=score, lost=score < 0.5)

    def calibrated(self, raw_score: float) -> float:
        """The probability that the target is present and tracked: a logistic map of fc6's raw score, fitted on
        training sequences for these weights (bench/calibrate.py; stored in the weights' metadata). 0.5 separates
        present from lost."""
        return float(1 / (1 + np.exp(-(self.score_scale * raw_score + self.score_shift))))

    # --------------------------------------------------------------------------------------------- internals
    def _remember(self, region) -> None:
        """A found frame's training samples around the new target into the memories."""
        cfg = self.config
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
            self.pos_memory.append(inputs[: len(pos_boxes)])
            self.neg_memory.append(inputs[len(pos_boxes) :])

    def _positives(self, last_frames: int | None = None) -> torch.Tensor:
        """Remembered positives (of the last ``last_frames`` frames)."""
        return torch.cat(list(self.pos_memory)[-last_frames:] if last_frames else list(self.pos_memory))

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
            groups = [
                {"params": list(head.fc5.parameters()), "lr": lr},
                {"params": branch.parameters(), "lr": lr * cfg.fc6_lr_mult},
            ]
            return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)

        self.init_optimizer = optimizer(cfg.lr_init)
        self.update_optimizer = optimizer(cfg.lr_update)

    def _prepare_fc4(self) -> None:
        """fc4 as loaded, its weights reordered once per video for the extractor's bin-major pooled features: an int8
        product where ``fc4_int8`` resolves on, otherwise in the conv pass's matmul precision (bfloat16 where the
        conv pass runs bf16: fc4 is as large as the conv pass, 1.2 GMAC per frame)."""
        fc4 = self.net.head.fc4[0]
        self._fc4_weight = self._fc4_bias = self._fc4_int8 = None
        if use_int8_fc4(self.config.fc4_int8, self.device):
            self._fc4_int8 = Int8Linear(cells_first_weight(fc4.weight.detach()), fc4.bias)
        else:
            dtype = torch.bfloat16 if self.extractor.bf16 else torch.float32
            self._fc4_weight = cells_first_weight(fc4.weight.detach()).to(dtype)
            self._fc4_bias = fc4.bias.detach().to(dtype)

    def _stage(self, name: str):
        """A block timed into ``self.timer`` when one is attached; otherwise a no-op costing well under 1 us."""
        return self.timer.stage(name) if self.timer is not None else nullcontext()

    def _inputs(self, pooled: torch.Tensor) -> torch.Tensor:
        """What online training and scoring start from: fc4's outputs, computed once per sample instead of once per
        iteration (9x less work per step and per remembered sample than tuning fc4 online, as py-MDNet does)."""
        with self._stage("fc4"), torch.no_grad():
            if self._fc4_int8 is not None:
                return self._fc4_int8(pooled).relu_()
            # fc4 (Linear + ReLU) on bin-major pooled features, with the weights reordered to match.
            inputs = pooled.to(self.device, self._fc4_weight.dtype)
            return F.linear(inputs, self._fc4_weight, self._fc4_bias).float().relu_()

    def _scores(self, inputs: torch.Tensor) -> np.ndarray:
        self.net.head.eval()
        with torch.inference_mode():
            logits = self.net.classify(inputs.to(self.device), in_layer="fc5")
        return (logits[:, 1] - logits[:, 0]).float().cpu().numpy()

    def _train(self, pos_feat: torch.Tensor, neg_feat: torch.Tensor, iterations: int, optimizer) -> list[float]:
        """Fine-tune fc5-fc6: 32 positives and the 96 hardest of 1024 negatives per step (hard negative mining)."""
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
            logits = self.net.classify(batch, in_layer="fc5", generator=self.torch_gen)
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
