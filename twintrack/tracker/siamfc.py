"""SiamFC tracking: correlate the first-frame exemplar with one search region per frame.

Two ways to estimate scale (config ``scale_mode``):

- ``pyramid`` (default): one 255-pixel search crop per frame, one backbone pass. The exemplar is embedded at
  ``scale_num`` scales once in init(); all of them are correlated with the frame's one search map (one matrix
  product, ``SiamFCHead.all_pairs``) and the best-scoring exemplar scale, after the scale-change penalty, is the
  target's scale change.
- ``search3``: the paper's SiamFC-3s: ``scale_num`` search crops at different scales per frame, each through the
  backbone, against one exemplar: ``scale_num`` times the backbone work. With ``scale_num=3 scale_step=1.0375`` it
  is the published tracker, kept for comparison.

The score is a calibrated probability that the target is present (``score_features`` / ``score``); below 0.5 the
tracker reports it lost and stops trusting the response (``while_lost``).

The per-frame work is split so that a caller can batch several trackers' crops through one backbone call
(MultiTracker): ``update(frame) == locate(frame, embed(search_crop(frame)))``.

Inference-time options (issue 11), off in the preset except ``use_bbreg`` (on since session 14, with its offline
prior: docs/selection.md); each leaves the tracker bit-identical when off:

- ``distractor_weight``: DaSiamRPN's distractor-aware response (Zhu et al., "Distractor-aware Siamese Networks
  for Visual Object Tracking", ECCV 2018, eq. 4-5, inference part only): on confident frames, the look-alike peaks
  of the response (local maxima above ``distractor_threshold`` x the target's peak, outside the target) are kept as
  their 11 x 11 windows of the search features (the backbone has no padding: the window centred on a response cell
  *is* the exemplar-sized feature of that place, free); the response used to locate the target is
  ``corr(z, x) - distractor_weight * sum_i a_i corr(d_i, x) / sum_i a_i`` (a_i: the look-alike's peak), with the
  look-alike features remembered over frames at rate ``distractor_lr``.
- ``template_lr``: a running template ``z_t = (1 - lr) z_{t-1} + lr * window at the peak`` (again a window of the
  search features), updated only on frames scored >= ``template_min_score``, blended into the response used to
  locate the target (``template_weight``). The scale is still chosen by the first frame's exemplars alone.
- ``lost_search_scale``: while lost, the next search region is that much larger at the same crop size (so
  MultiTracker's batching is unchanged), matched against first-frame exemplars zoomed out by the same factor
  (SiamRPN++'s long-term variant searches a larger region while lost the same way: Li et al. 2019, pysot's
  siamrpnlt_tracker), with ``lost_window_influence``. ``lost_search_mode: both`` searches the normal region too
  (a second backbone pass while lost) and takes the wider one only where the normal one does not find the target
  and the wider one scores at least ``lost_wide_min_score`` (the score was calibrated at the normal scale: the
  zoomed-out exemplar's is less sure).

- ``color_weight``: Staple's colour cue (Bertinetto et al., CVPR 2016; tracker/color_prior.py): RGB histograms of
  the target against its search region give each pixel a foreground probability; the located response gains
  ``color_weight`` x its own range x the mean probability of a target-sized box at each cell, so a look-alike of
  another colour loses to the target. The cue is scaled down on frames where the target's colours fill the region;
  the model is the first frame's, or follows confident frames at ``color_lr``. ``color_background: lookalikes``
  is DAT's model instead (Possegger et al., CVPR 2015): the target's colours against those of the look-alike peaks
  (``distractor_cells``) only, learnt on frames scored at least ``color_learn_min_score``; off until one is seen.
  ``color_foreground: contrast`` weights the box's pixels by how much more their colour is in the box than around
  it, so a loose first box's background (the road around a car) is not learnt as the target's.
- ``use_bbreg`` (on in the preset): MDNet's bounding-box regression (R-CNN style ridge regression, tracker/bbreg.py) on SiamFC's own
  features: RoIAlign (MDNet's pooling, the same conv layers) cuts a box out of the best scale's search features, and
  a regression fitted on 1000 boxes around the first frame's target maps it to the target's box. It refines the
  reported box on located frames; the search keeps SiamFC's centre and scale (MDNet's bbreg_feedback false), or with
  ``bbreg_size_lr`` its size follows the regressed size at that rate (and may change its aspect). With
  ``bbreg_steps`` above 1 the regression runs again from its own box (iterative refinement).
  ``bbreg_prior`` names a regression fitted offline across training videos (bench/fit_box_regressor.py) that the
  first-frame fit starts from: the ridge pulls towards it rather than towards zero (``auto``, the preset: the shipped
  one, for the shipped backbone only).
  Size is SiamFC's weak point: with the true area at its own centres it would score 0.055 more AUC on val
  (bench/size_oracle.py).
- ``motion_lr``: a constant-velocity motion model. The next frame's search regions are centred at the last centre
  plus a velocity that blends in each located frame's displacement at this rate (reset while lost), so a target
  that moves fast but steadily stays inside the search region's reach, and the cosine window favours where it is
  going rather than where it was.
- ``scale_min_score``: the size follows the search scales only on frames scored at least this (0.5: every located
  frame). ``scale_filter``: DSST's scale filter (Danelljan et al., BMVC 2014; tracker/scale_filter.py) sets the
  size on located frames instead; the search scales still locate the centre. Both lost every split (session 16).

The correlation is linear in the template, so both response terms go into one extra template
(``template_weight * z_t - distractor_weight * d``): one 11 x 11 correlation per frame (a fifth of the pyramid's).
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import torch

from twintrack.configs import SiamFCConfig
from twintrack.geometry import clip_box, context_size, crop_and_resize, cxcywh_to_xywh, xywh_to_cxcywh
from twintrack.models import SiamFCNet, VGGM
from twintrack.models.mdnet import MDNet
from twintrack.runtime import build_backbone_engine
from twintrack.tracker.base import TrackResult, check_frame, check_init_box
from twintrack.tracker.bbreg import BoxRegressor, load_prior, regression_samples
from twintrack.tracker.color_prior import COLOR_CROP, ColorModel, LookalikeColorModel
from twintrack.tracker.device_crop import crop_resize, upload_frame
from twintrack.tracker.scale_filter import ScaleFilter


class SiamFCTracker:
    name = "siamfc"

    def __init__(self, net: SiamFCNet, config: SiamFCConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        # An inference copy: moving devices and freeing the conv layers must not touch the caller's (training) network.
        net = copy.deepcopy(net).eval().requires_grad_(False)
        # The backbone engine (INTERFACES.md item 2): (N, 3, H, W) float32 RGB in [0, 255] on device -> (N, C, h, w)
        # float32 features. Built from the backbone as loaded: it folds BatchNorm in its own copy, and finds the int8
        # calibration by the weights' fingerprint, which folding would change.
        # bbreg_prior auto: the shipped offline regression, only for the backbone it was fitted on (by fingerprint).
        self.regressor_prior = load_prior(config, net.backbone)
        self.backbone_engine = build_backbone_engine(net.backbone, config.precision, device,
                                                     channels_last=config.channels_last, fold_bn=config.fold_bn,
                                                     int8_model=config.int8_model or None)
        # The engine holds what it runs (its own inference copy, or the int8 ONNX model): the tracker's fp32 conv
        # layers are never read again. Free them (issue 10); the head (correlation, no BatchNorm) stays.
        net.backbone = None
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.net = net.to(device).to(memory_format=self.memory_format)
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
        # The colour cue's crop pixel (x, y) that each coarse response cell points at, (row, col, 2): cell i is
        # (i - (n - 1) / 2) x total_stride search pixels from the crop's centre.
        offsets = (np.arange(self.response_size) - (self.response_size - 1) / 2) * config.total_stride
        offsets = offsets * COLOR_CROP / config.search_size + COLOR_CROP / 2
        self.color_cells = np.stack(np.meshgrid(offsets, offsets), axis=-1)
        self.exemplar_feat = None
        self.regressor = None  # use_bbreg's, fitted by init()
        self.wide = False  # this frame's search covers the wider region (lost_search_scale, while lost)
        self.used_wide = False

    # ---------------------------------------------------------------------------------------------------- api
    def init(self, frame, box) -> None:
        frame = check_frame(frame)
        box = check_init_box(box, frame)
        cfg = self.config
        cx, cy, w, h = xywh_to_cxcywh(box)
        self.center = np.array([cx, cy])
        self.velocity = np.zeros(2)  # motion_lr's smoothed displacement per frame (frame pixels)
        self.target_size = np.array([w, h])
        self.initial_size = self.target_size.copy()
        self.exemplar_side = max(context_size(self.target_size, cfg.context), cfg.min_exemplar_side)
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
        # The exemplar's response to its own frame: the yardstick for later peaks (the lost-target score).
        self.lost = False
        self.wide = False
        self.frames_located = 0  # update() calls since init(): search3 estimates scale on every scale_interval-th
        self.self_peak = None
        self.extra_template = None
        self.scale_norm = np.ones(cfg.scale_num, dtype=np.float32)
        first_feat = self.embed(self.search_crop(frame))
        first = self._responses(first_feat)
        self.self_peak = float(first[len(first) // 2].max())
        self.regressor = self._fit_regressor(first_feat[len(first_feat) // 2][None], box, frame) \
            if cfg.use_bbreg else None
        if cfg.scale_mode == "pyramid" and cfg.pyramid_norm:
            # Each exemplar scale against the first frame zoomed by the same factor: how high that exemplar peaks
            # when it is right. Scales are compared by their peaks relative to this, so an exemplar whose crop
            # holds more context (and so correlates lower) is not passed over for that alone.
            zoomed = np.stack([crop_and_resize(frame, self.center, self.search_side / f, cfg.search_size,
                                               self.avg_color) for f in self.scale_factors])
            own = self.net.head.all_pairs(self.exemplar_feat, self.embed(zoomed))
            own = own.diagonal(dim1=0, dim2=1).amax(dim=(0, 1)).float().cpu().numpy()
            self.scale_norm = 1 / np.maximum(own - self.head_bias, 1e-6)
        if cfg.lost_search_scale != 1:
            # The wider search region shows the target lost_search_scale times smaller in the same crop: so do these
            # exemplars (the first frame zoomed out by that factor), and their own first-frame peak is the yardstick.
            zoom = cfg.lost_search_scale
            wide = np.stack([crop_and_resize(frame, self.center, s * zoom, cfg.exemplar_size, self.avg_color)
                             for s in sides])
            self.wide_exemplar_feat = self.embed(wide).contiguous(memory_format=torch.channels_last)
            own = self.net.head.all_pairs(self.wide_exemplar_feat, self.embed(
                crop_and_resize(frame, self.center, self.search_side * zoom, cfg.search_size, self.avg_color)[None]))
            self.wide_self_peak = float(own[0, len(sides) // 2].max())
        # The running template starts as the first frame's (middle scale); the look-alike memory empty.
        middle = self.exemplar_feat[len(self.exemplar_feat) // 2 :][:1]
        self.template = middle.clone() if cfg.template_lr > 0 else None
        self.distractor = torch.zeros_like(middle) if cfg.distractor_weight > 0 else None
        self.distractor_active = False
        self._update_extra_template()
        model = LookalikeColorModel if cfg.color_background == "lookalikes" else ColorModel
        self.color_model = (model(*self._color_view(frame), foreground=cfg.color_foreground)
                            if cfg.color_weight > 0 else None)
        self.scale_filter = (ScaleFilter(frame, self.center, self.target_size, num=cfg.scale_filter_num,
                                         step=cfg.scale_filter_step, lr=cfg.scale_filter_lr)
                             if cfg.scale_filter else None)

    def _scale_frame(self) -> bool:
        """Whether this frame's search has a crop per scale (search3 on every scale_interval-th frame)."""
        cfg = self.config
        return cfg.scale_mode == "search3" and self.frames_located % cfg.scale_interval == 0

    def update(self, frame) -> TrackResult:
        # search_crop() checks and converts the frame; locate() reads only its size.
        return self.locate(frame, self.embed(self.search_crop(frame)))

    def continue_from(self, box) -> None:
        """Go on from ``box`` (x, y, w, h), found by someone else (the twin's MDNet): the next search centres on it
        at its size, within min_scale..max_scale of the first; the template stays the first frame's."""
        box = np.asarray(box, dtype=np.float64)
        self.center = box[:2] + box[2:] / 2
        self._follow_size(box[2:], rate=1.0)  # the size, and the search and exemplar regions with it

    # ------------------------------------------------------------------------------- split per-frame stages
    def search_regions(self) -> np.ndarray:
        """(k, 3) float array of (cx, cy, side) in frame pixels: the regions search_crop() cuts, in its order; each
        is resized to search_size pixels and padded with ``avg_color`` outside the frame."""
        if self.exemplar_feat is None:
            raise RuntimeError("call init(frame, box) before update(frame)")
        factors = self.scale_factors if self._scale_frame() else np.ones(1)
        zooms = [1.0]
        if self.wide:  # while lost: the wider region instead of the normal one, or after it (lost_search_mode both)
            zooms = [1.0, self.config.lost_search_scale] if self.config.lost_search_mode == "both" else \
                [self.config.lost_search_scale]
        cx, cy = self.search_center()
        return np.array([[cx, cy, self.search_side * z * f] for z in zooms for f in factors])

    def search_center(self) -> np.ndarray:
        """Where this frame's search regions are centred: the last centre, moved by the motion model's velocity."""
        return self.center + self.velocity

    def search_crop(self, frame) -> np.ndarray | torch.Tensor:
        """This frame's search crop(s): k = 1 (pyramid) or scale_num (search3), twice that while lost with
        ``lost_search_mode: both`` (the normal regions, then the wider ones). On the CPU a (k, H, W, 3) uint8 array
        (cv2); on other devices a (k, 3, H, W) float32 tensor there, cut from the frame uploaded once
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
            images = images.contiguous(memory_format=self.memory_format)
        with self._stage("backbone"), torch.inference_mode():
            return self.backbone_engine(images)

    def locate(self, frame, search_feat: torch.Tensor) -> TrackResult:
        """The target's box in ``frame`` from the backbone features of ``search_crop(frame)``."""
        if self.exemplar_feat is None:
            raise RuntimeError("call init(frame, box) before update(frame)")
        cfg = self.config
        frame_h, frame_w = np.shape(frame)[:2]
        wide = self.wide
        if wide and cfg.lost_search_mode == "both":
            # Normal and wider region: the wider one is taken only where it finds the target and the normal one
            # does not, so this frame's result is the normal search's otherwise.
            half = len(search_feat) // 2
            search_feat, wide_feat = search_feat[:half], search_feat[half:]
            wide_responses = self._responses(wide_feat, wide=True)
            wide_best = self._best_scale(wide_responses)
            wide = False
            responses = self._responses(search_feat, wide=False)
            best = self._best_scale(responses)
            if self.score(self.score_features(responses[best], wide=False)) < 0.5 and self.score(
                    self.score_features(wide_responses[wide_best], wide=True)) >= cfg.lost_wide_min_score:
                search_feat, responses, best, wide = wide_feat, wide_responses, wide_best, True
        else:
            responses = self._responses(search_feat)
            best = self._best_scale(responses)
        # The scale change this frame: search3 crops are scale_factors in order; one crop (pyramid's, or search3
        # between scale frames) is the middle scale, and pyramid's best exemplar gives its factor below.
        factor = float(self.scale_factors[best]) if (cfg.scale_mode == "pyramid" or len(responses) > 1) else 1.0
        # The options' response terms (template, look-alikes) hold features at the normal search scale.
        adjust = self.extra_template is not None and not wide
        feat = search_feat[best if cfg.scale_mode == "search3" else 0][None]
        located = self._adjusted(responses[best], feat) if adjust else responses[best]
        # The score reads the first frame's exemplar's response, as it was calibrated.
        score = self.score(self.score_features(responses[best], wide=wide))
        # The colour cue on frames scored below color_max_score (1: every frame): the best scale's search region,
        # the target at that scale in it.
        zoom = cfg.lost_search_scale if wide else 1.0
        crop_factor = factor if cfg.scale_mode == "search3" else 1.0  # the best crop's side over the normal one's
        searched_at = self.search_center()
        if self.color_model is not None and self.color_model.active and score < cfg.color_max_score:
            located = self._with_color(located, frame, searched_at, zoom * crop_factor, factor)

        with self._stage("peak"):
            influence = cfg.window_influence
            if wide and cfg.lost_window_influence >= 0:
                influence = cfg.lost_window_influence
            row, col = self._peak(located, influence)

        self.lost = score < 0.5
        previous_center = self.center
        crop_side = zoom * self.search_side * crop_factor  # the best crop's side in frame pixels (before any update)
        # While lost, the peak is not the target: the size stays (a background peak would grow or shrink it
        # without bound), and with while_lost=hold_box the centre too, so the search waits where the target was.
        if not (self.lost and cfg.while_lost == "hold_box"):
            # Peak displacement: upsampled response -> search crop pixels -> frame pixels.
            disp_response = np.array([col, row], dtype=np.float64) - (self.upscale_size - 1) / 2
            disp_frame = disp_response * cfg.total_stride / cfg.response_up * crop_side / cfg.search_size
            # Keep the centre on the image so a target that leaves it is searched for at the border it crossed.
            self.center = np.clip(searched_at + disp_frame, [0, 0], [frame_w, frame_h])
        # The motion model learns from located frames only: while lost the peak is not the target's motion.
        if cfg.motion_lr > 0:
            self.velocity = np.zeros(2) if self.lost else (
                (1 - cfg.motion_lr) * self.velocity + cfg.motion_lr * (self.center - previous_center))
        learn = not self.lost and not wide and (self.template is not None or self.distractor is not None)
        if learn:
            # Before the scale update: the search crop's geometry is this frame's.
            self._learn(responses[best], feat, row, col, score)
        if (cfg.color_weight > 0 and cfg.color_background == "lookalikes" and score >= cfg.color_learn_min_score
                and not wide):
            # Before the scale update, as _learn: the crop geometry is this frame's.
            self._learn_lookalike_colors(frame, responses[best], row, col, searched_at, crop_factor, factor)
        if not self.lost:
            if self.scale_filter is not None:
                # DSST: the size change measured at the new centre, taken whole (the filter's own learning rate
                # smooths it), then the filter learns the target at that size.
                self._update_scale(self.scale_filter.estimate(frame, self.center, self.target_size), rate=1.0)
                self.scale_filter.learn(frame, self.center, self.target_size)
            elif score >= cfg.scale_min_score:
                self._update_scale(factor)
            if self.color_model is not None and cfg.color_lr > 0:
                self.color_model.update(*self._color_view(frame), cfg.color_lr)
        self.frames_located += 1
        self.used_wide = wide  # this frame's result came from the wider region
        self.wide = self.lost and cfg.lost_search_scale != 1

        box = cxcywh_to_xywh(np.concatenate([self.center, self.target_size]))
        if self.regressor is not None and not self.lost:
            # Reported; with bbreg_size_lr 0 the next search starts from SiamFC's own box (MDNet's bbreg_feedback
            # false), otherwise the tracked size follows the regressed one at that rate.
            for _ in range(cfg.bbreg_steps):
                box = self._regress(box, feat, searched_at, crop_side)
            if cfg.bbreg_size_lr > 0:
                self._follow_size(box[2:], cfg.bbreg_size_lr)
        return TrackResult(box=clip_box(box, frame_w, frame_h), score=score, lost=self.lost)

    # -------------------------------------------------------------------------------------- lost-target score
    def score_features(self, response: np.ndarray, wide: bool | None = None) -> np.ndarray:
        """What the lost-target score reads from one coarse response map (logits): its peak, the peak's raw
        correlation relative to the first frame's (1: as similar as the exemplar to itself), and the peak-to-
        sidelobe ratio (how much the peak stands out from the rest of the map). ``wide``: the response is the wider
        search's (lost_search_scale), compared with its own first-frame peak (default: this frame's search)."""
        peak = float(response.max())
        bias = self.head_bias
        self_peak = self.wide_self_peak if (self.wide if wide is None else wide) else self.self_peak
        ratio = (peak - bias) / (self_peak - bias) if self_peak is not None else 1.0
        row, col = np.unravel_index(int(np.argmax(response)), response.shape)
        sidelobe = np.ones(response.shape, dtype=bool)
        sidelobe[max(row - 2, 0) : row + 3, max(col - 2, 0) : col + 3] = False
        side = response[sidelobe]
        psr = (peak - float(side.mean())) / (float(side.std()) + 1e-6)
        return np.array([peak, ratio, psr])

    def score(self, features: np.ndarray) -> float:
        """Calibrated probability that the target is present (a logistic fit, see bench/siamfc_lost.py)."""
        cfg = self.config
        logit = cfg.score_bias + float(np.dot([cfg.score_peak, cfg.score_ratio, cfg.score_psr], features))
        return float(1 / (1 + np.exp(-logit)))

    # ------------------------------------------------------------------------------------------------ helpers
    def _responses(self, search_feat: torch.Tensor, wide: bool | None = None) -> np.ndarray:
        """Coarse response maps (logits), (k, 17, 17) float32: one per exemplar scale or per search scale."""
        exemplars = self.wide_exemplar_feat if (self.wide if wide is None else wide) else self.exemplar_feat
        with self._stage("correlation"), torch.inference_mode():
            logits = self.net.head.all_pairs(exemplars, search_feat)
            return logits.reshape(-1, self.response_size, self.response_size).float().cpu().numpy()

    # ------------------------------------------------------------------- options: template and look-alikes
    def _adjusted(self, response: np.ndarray, feat: torch.Tensor) -> np.ndarray:
        """The response used to locate the target: (1 - w) x the first frame's + one correlation of the extra
        template ``w z_t - alpha d`` (w = template_weight if the template is updated, else 0), in logits."""
        w = self.config.template_weight if self.template is not None else 0.0
        with self._stage("correlation"), torch.inference_mode():
            extra = self.net.head.all_pairs(self.extra_template, feat)[0, 0].float().cpu().numpy() - self.head_bias
        return ((1 - w) * (response - self.head_bias) + extra + self.head_bias).astype(np.float32)

    # ---------------------------------------------------------------------------------- option: colour cue
    def _color_view(self, frame, center=None, zoom_side: float = 1.0,
                    target_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """The search region (times ``zoom_side``) around ``center`` (default: the current centre) at COLOR_CROP
        pixels, and the target's box at its centre at ``target_scale`` x its current size: what the colour model is
        fitted on and read from (a small crop: colour needs no detail, and the table lookup and the integral image
        run per pixel)."""
        side = self.search_side * zoom_side
        crop = crop_and_resize(frame, self.center if center is None else center, side, COLOR_CROP, self.avg_color)
        size = self.target_size * target_scale * COLOR_CROP / side
        return crop, np.concatenate([COLOR_CROP / 2 - size / 2, size])

    def _with_color(self, located: np.ndarray, frame, center, zoom_side: float, target_scale: float) -> np.ndarray:
        """``located`` plus the colour cue at each coarse cell: color_weight x the response's range x the mean
        foreground probability of the target's box (at ``target_scale``) centred where that cell points, in the
        search region at ``center`` times ``zoom_side`` (a new array)."""
        cfg = self.config
        with self._stage("color"):
            crop, box = self._color_view(frame, center, zoom_side, target_scale)
            probability = self.color_model.pixel_map(crop)
            color = self.color_model.box_scores(probability, self.color_cells, box[2:])
            # How much the best box stands out from the region as a whole: 0 where the target's colours are all
            # over this frame's region (a dark rider in front of a dark forest), towards 1 where they are its own.
            best = float(color.max())
            gate = max(best - float(probability.mean()), 0.0) / max(best, 1e-6)
            spread = float(located.max() - located.min())
            return (located + cfg.color_weight * gate * spread * color).astype(np.float32)

    def _update_extra_template(self) -> None:
        cfg = self.config
        parts = []
        if self.template is not None:
            parts.append(cfg.template_weight * self.template)
        if self.distractor is not None and self.distractor_active:
            parts.append(-cfg.distractor_weight * self.distractor)
        self.extra_template = None if not parts else sum(parts[1:], parts[0]).contiguous(
            memory_format=torch.channels_last)

    def window_at(self, feat: torch.Tensor, cell_row: int, cell_col: int) -> torch.Tensor:
        """(1, C, h, w): the exemplar-sized window of search features that response cell (row, col) correlates."""
        h, w = self.exemplar_feat.shape[-2:]
        return feat[:1, :, cell_row : cell_row + h, cell_col : cell_col + w]

    def distractor_cells(self, response: np.ndarray, cell_row: int, cell_col: int) -> list[tuple[int, int, float]]:
        """Look-alike peaks of a coarse response: ``(row, col, weight)`` of local maxima (3 x 3) whose logit above
        the head bias is over distractor_threshold x the map's peak's, outside the target around (cell_row,
        cell_col), highest first, at most distractor_max; weight = the logit above the bias."""
        cfg = self.config
        above = response - self.head_bias
        top = float(above.max())
        if top <= 0:
            return []
        padded = np.pad(above, 1, constant_values=-np.inf)
        n_r, n_c = above.shape
        neighbours = np.stack([padded[1 + dr : 1 + dr + n_r, 1 + dc : 1 + dc + n_c]
                               for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc])
        candidate = (above >= neighbours.max(axis=0)) & (above > cfg.distractor_threshold * top)
        # Outside the target: beyond its half extent in response cells (the search crop shows it at search_size /
        # search_side) and beyond half an exemplar window, so that a look-alike's window does not hold the target's
        # centre (subtracting it would push the response down on the target itself).
        half = self.target_size * cfg.search_size / self.search_side / cfg.total_stride / 2
        half_window = np.array(self.exemplar_feat.shape[-1:-3:-1]) // 2  # (x, y)
        reach = np.maximum(half, half_window)
        rows, cols = np.mgrid[0:n_r, 0:n_c]
        on_target = (np.abs(cols - cell_col) <= reach[0]) & (np.abs(rows - cell_row) <= reach[1])
        found = [(int(r), int(c), float(above[r, c])) for r, c in zip(*np.nonzero(candidate & ~on_target))]
        return sorted(found, key=lambda item: -item[2])[: cfg.distractor_max]

    def _learn(self, response: np.ndarray, feat: torch.Tensor, row: int, col: int, score: float) -> None:
        """After a confident frame: update the running template and the look-alike memory."""
        cfg = self.config
        cell_row, cell_col = self._coarse_cell(row, col)
        with torch.inference_mode():
            if self.template is not None and score >= cfg.template_min_score:
                window = self.window_at(feat, cell_row, cell_col)
                self.template = (1 - cfg.template_lr) * self.template + cfg.template_lr * window
            if self.distractor is not None:
                found = self.distractor_cells(response, cell_row, cell_col)
                if found:
                    weights = torch.tensor([w for _, _, w in found], dtype=torch.float32).view(-1, 1, 1, 1)
                    windows = torch.cat([self.window_at(feat, r, c) for r, c, _ in found])
                    current = (windows * weights).sum(0, keepdim=True) / weights.sum()
                    if not self.distractor_active:  # the first look-alikes seen: nothing to blend them with
                        self.distractor, self.distractor_active = current, True
                    else:
                        self.distractor = (1 - cfg.distractor_lr) * self.distractor + cfg.distractor_lr * current
                elif self.distractor_active:
                    self.distractor = (1 - cfg.distractor_lr) * self.distractor  # fades while none are in view
            self._update_extra_template()

    def _coarse_cell(self, row: int, col: int) -> tuple[int, int]:
        """The coarse response cell nearest the located (upsampled) peak: upsampled pixel u is at coarse
        (u + 0.5) / up - 0.5."""
        up, n = self.config.response_up, self.response_size
        return (int(np.clip(round((row + 0.5) / up - 0.5), 0, n - 1)),
                int(np.clip(round((col + 0.5) / up - 0.5), 0, n - 1)))

    def _learn_lookalike_colors(self, frame, response: np.ndarray, row: int, col: int, searched_at,
                                crop_factor: float, factor: float) -> None:
        """color_background lookalikes: after a located frame, the colours of this response's look-alike peaks
        (distractor_cells) join the model's background at distractor_lr; the colour crop is the one the cue read
        (the best scale's search region, the target at that scale in it)."""
        cell_row, cell_col = self._coarse_cell(row, col)
        found = self.distractor_cells(response, cell_row, cell_col)
        if not found:
            return
        with self._stage("color"):
            crop, target_box = self._color_view(frame, searched_at, crop_factor, factor)
            size = target_box[2:]
            centres = np.array([self.color_cells[r, c] for r, c, _ in found])
            boxes = np.concatenate([centres - size / 2, np.broadcast_to(size, centres.shape)], axis=1)
            target_box = np.concatenate([self.color_cells[cell_row, cell_col] - size / 2, size])
            self.color_model.add_lookalikes(crop, target_box, boxes, self.config.distractor_lr)

    # ------------------------------------------------------------------------------ option: box regression
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

    def _follow_size(self, size: np.ndarray, rate: float) -> None:
        """bbreg_size_lr: the tracked size moves ``rate`` of the way (in log size, per side) to ``size``; the search
        and exemplar regions scale with the size's geometric mean, within min_scale..max_scale of the first size."""
        cfg = self.config
        new = self.target_size * (np.maximum(size, 1.0) / self.target_size) ** rate
        drift = float(np.sqrt(np.prod(new / self.initial_size)))  # geometric-mean size over the first frame's
        new = new * float(np.clip(drift, cfg.min_scale, cfg.max_scale)) / drift
        change = float(np.sqrt(np.prod(new / self.target_size)))
        self.target_size = new
        self.exemplar_side *= change
        self.search_side *= change

    def _update_scale(self, factor: float, rate: float | None = None) -> None:
        """Scale the tracked size and regions by ``factor`` blended at ``rate`` (default scale_lr) towards 1."""
        cfg = self.config
        rate = cfg.scale_lr if rate is None else rate
        scale = (1 - rate) + rate * factor
        # Size changes are uniform, so one ratio to the initial size says how far the scale has drifted.
        size_ratio = self.target_size[0] / self.initial_size[0]
        scale = float(np.clip(scale, cfg.min_scale / size_ratio, cfg.max_scale / size_ratio))
        self.target_size = self.target_size * scale
        self.exemplar_side *= scale
        self.search_side *= scale

    def _peak(self, response: np.ndarray, window_influence: float | None = None) -> tuple[int, int]:
        """(row, col) of the peak in the upsampled response (the paper's bicubic x response_up, normalised to sum 1
        and blended with a cosine window), computed only where it can be: the window is found on the coarse map,
        then the 8x8 coarse cells around it are upsampled (a fifth of the full map's work)."""
        cfg = self.config
        influence = cfg.window_influence if window_influence is None else window_influence
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
        if self.config.scale_mode == "pyramid" and self.config.pyramid_norm:
            peaks = (peaks - self.head_bias) * self.scale_norm
        return int(np.argmax(peaks * self.scale_penalties))

    def _stage(self, name: str):
        return self.timer.stage(name) if self.timer is not None else _NO_TIMER




class _NoTimer:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NO_TIMER = _NoTimer()
