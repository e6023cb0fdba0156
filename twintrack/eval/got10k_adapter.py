"""The got10k toolkit (0.1.3) behind twintrack: its benchmark datasets, experiment protocols and reports, and a
wrapper that makes our trackers got10k trackers.

The toolkit's known faults are handled here, without forking it and without patching it at import time:

- ``ExperimentOTB`` and ``ExperimentVOT`` build their datasets with ``download=True``, which fetches from the
  internet even when the data is on disk. We build the datasets ourselves (``download=False``) and attach them to
  experiments created without their ``__init__``.
- ``ExperimentVOT`` uses ``np.NaN``, removed in numpy 2: while its code runs, its module sees a numpy proxy that
  still has ``NaN`` (``_numpy_nan_shim``); the real numpy is never touched and the proxy is removed afterwards.
- ``ExperimentVOT._calc_iou`` builds an array from 1-element arrays and scalar NaNs, which numpy >= 1.24 rejects
  ("inhomogeneous shape"): overridden to return one float per frame.
- ``LaSOT.__init__`` crashes on any dataset (``_check_integrity`` called with one argument too many, then
  ``os.path.dirname`` of a generator) and lists all 280 test sequences even when fewer are on disk: a subclass
  sets the dataset up itself. The release has no LaSOT experiment, so LaSOT runs with the OTB protocol on it.
- ``UAV123._check_integrity`` wants more than three entries in the root, which a root holding only ``anno/`` and
  ``data_seq/`` fails.
- got10k imports ``six`` without declaring it: ``six`` is in our own dependencies.

Experiment report methods change matplotlib's global rcParams; they run inside ``matplotlib.rc_context``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import types
from dataclasses import dataclass
from pathlib import Path

import got10k.experiments.vot as got10k_vot
import numpy as np
from got10k import datasets as got10k_datasets
from got10k.experiments import ExperimentGOT10k, ExperimentOTB, ExperimentUAV123, ExperimentVOT
from got10k.trackers import Tracker as Got10kBaseTracker
from got10k.utils.metrics import poly_iou

from twintrack.errors import UserError
from twintrack.fileio import write_text_atomic
from twintrack.eval.sequences import EvalSequence, check_first_box, load_folder_sequences
from twintrack.geometry import from_one_based, to_one_based

KINDS = ("otb", "got10k", "vot", "uav123", "dtb70", "lasot", "folder")
# --split per kind: OTB and VOT versions, GOT-10k and LaSOT subsets, UAV123 or UAV20L.
DEFAULT_SPLITS = {"otb": "2015", "got10k": "val", "vot": "2018", "uav123": "UAV123", "lasot": "test"}
PROTOCOLS = {"got10k": "got10k", "vot": "vot"}  # everything else: "ope", OTB one-pass evaluation


# ------------------------------------------------------------------------------------------- tracker wrapper


class Got10kTracker(Got10kBaseTracker):
    """One of our trackers as a got10k tracker: PIL images in, 1-based ``x, y, w, h`` boxes in and out.

    This is the one place where got10k's box convention meets ours. A fresh tracker is built at every ``init``
    (VOT re-initialises after failures; our trackers keep state). All our trackers are deterministic once seeded,
    so got10k runs one repetition.
    """

    def __init__(self, name: str, make_tracker) -> None:
        super().__init__(name=name, is_deterministic=True)
        self._make_tracker = make_tracker
        self._tracker = None

    def init(self, image, box) -> None:
        self._tracker = self._make_tracker()
        self._tracker.init(pil_to_rgb(image), from_one_based(np.asarray(box, dtype=np.float64)[:4]))

    def update(self, image) -> np.ndarray:
        return to_one_based(self._tracker.update(pil_to_rgb(image)).box)


def pil_to_rgb(image) -> np.ndarray:
    """A PIL image (any mode) as our HxWx3 RGB uint8 frame."""
    return np.asarray(image.convert("RGB") if image.mode != "RGB" else image, dtype=np.uint8)


# ----------------------------------------------------------------------------------- datasets with the faults fixed


class OnDiskLaSOT(got10k_datasets.LaSOT):
    """LaSOT listing only the split's sequences that are on disk. ``LaSOT.__init__`` is not called: it crashes on
    any non-empty root (``os.path.dirname`` of a generator, and ``_check_integrity`` called with one argument too
    many); its ``__getitem__`` and ``_fetch_meta`` are used as they are."""

    def __init__(self, root_dir, subset="test", return_meta=False):  # noqa: super().__init__ is broken (above)
        if not any(not n.startswith(".") for n in os.listdir(root_dir)):
            raise UserError(f"no LaSOT sequences in '{root_dir}'")
        self.root_dir, self.subset, self.return_meta = root_dir, subset, return_meta
        split_file = Path(got10k_datasets.lasot.__file__).with_name("lasot.json")
        names = json.loads(split_file.read_text())[subset]
        # Sequence "airplane-1" lives in <root>/airplane/airplane-1/{img/, groundtruth.txt}.
        dirs = {n: os.path.join(root_dir, n[:n.rfind("-")], n) for n in names}
        self.seq_names = [n for n in names if os.path.isfile(os.path.join(dirs[n], "groundtruth.txt"))]
        self.seq_dirs = [os.path.join(dirs[n], "img") for n in self.seq_names]
        self.anno_files = [os.path.join(dirs[n], "groundtruth.txt") for n in self.seq_names]


class OnDiskUAV123(got10k_datasets.UAV123):
    def _check_integrity(self, root_dir, version):
        if not os.path.isdir(os.path.join(root_dir, "anno", version)):
            raise UserError(f"no {version} annotations in '{os.path.join(root_dir, 'anno', version)}'")


class FolderDataset:
    """OTB-style sequence folders as a got10k dataset (1-based annotations), so got10k's OTB report runs on them."""

    def __init__(self, root) -> None:
        self.sequences = load_folder_sequences(root)
        self.seq_names = [s.name for s in self.sequences]

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index):
        if isinstance(index, str):
            index = self.seq_names.index(index)
        sequence = self.sequences[index]
        return list(sequence.frames), to_one_based(sequence.ground_truth)


class DatasetView:
    """Some sequences of a got10k dataset, by name: lets a got10k experiment run one sequence in a worker."""

    def __init__(self, dataset, names) -> None:
        self.dataset = dataset
        self.seq_names = list(names)

    def __len__(self) -> int:
        return len(self.seq_names)

    def __getitem__(self, index):
        return self.dataset[self.seq_names[index] if isinstance(index, int) else index]

    def __iter__(self):
        return (self.dataset[name] for name in self.seq_names)

    def _corner2rect(self, corners):
        return self.dataset._corner2rect(corners)


# ------------------------------------------------------------------------------------------------- benchmarks


@dataclass
class Benchmark:
    kind: str
    root: str
    split: str
    dataset: object  # a got10k dataset: seq_names, len(), [i] -> (img_files, 1-based anno[, meta])
    sequences: list[EvalSequence]  # the same sequences, 0-based rectangles

    @property
    def protocol(self) -> str:
        return PROTOCOLS.get(self.kind, "ope")

    @property
    def title(self) -> str:
        return f"{self.kind}:{self.root}" + (f" ({self.split})" if self.split else "")


def parse_dataset_spec(spec: str) -> tuple[str, str]:
    kind, sep, root = spec.partition(":")
    if not sep:  # a bare path is a folder of OTB-style sequences
        return "folder", spec
    if kind not in KINDS:
        raise UserError(f"dataset {spec}: unknown kind '{kind}'; choose one of {', '.join(KINDS)}")
    return kind, root


def open_benchmark(kind: str, root: str, split: str | None = None) -> Benchmark:
    if kind not in KINDS:
        raise UserError(f"unknown dataset kind '{kind}'; choose one of {', '.join(KINDS)}")
    if not Path(root).is_dir():
        raise UserError(f"{kind} dataset folder '{root}' does not exist")
    split = split or DEFAULT_SPLITS.get(kind, "")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # got10k prints a warning per missing sequence
            dataset = _open_dataset(kind, root, split)
    except UserError:
        raise
    except Exception as err:  # got10k raises bare Exceptions and AssertionErrors for missing or odd data
        raise UserError(f"cannot read {kind} dataset at '{root}' ({split or 'no split'}): {err or type(err).__name__}")
    if len(dataset) == 0:
        raise UserError(f"no {kind} sequences found in '{root}'" + (f" for split {split}" if split else ""))
    return Benchmark(kind, str(root), split, dataset, _eval_sequences(dataset))


def _open_dataset(kind: str, root: str, split: str):
    datasets = got10k_datasets
    if kind == "folder":
        return FolderDataset(root)
    if kind == "otb":
        version = int(split) if split.isdigit() else split.lower()
        return datasets.OTB(root, version, download=False)
    if kind == "got10k":
        if split != "val":
            raise UserError(f"got10k split '{split}': only 'val' has ground truth to score (test is scored by the "
                            "GOT-10k server)")
        return datasets.GOT10k(root, subset="val", return_meta=False)
    if kind == "vot":
        version = int(split) if split.isdigit() else split
        return datasets.VOT(root, version, anno_type="default", download=False, return_meta=True)
    if kind == "uav123":
        if split.upper() not in ("UAV123", "UAV20L"):
            raise UserError(f"uav123 split '{split}': choose UAV123 or UAV20L")
        return OnDiskUAV123(root, split.upper())
    if kind == "dtb70":
        return datasets.DTB70(root)
    if kind == "lasot":
        if split not in ("train", "test"):
            raise UserError(f"lasot split '{split}': choose test or train")
        return OnDiskLaSOT(root, subset=split)
    raise AssertionError(kind)


def _eval_sequences(dataset) -> list[EvalSequence]:
    sequences = []
    for index, name in enumerate(dataset.seq_names):
        anno_file = getattr(dataset, "anno_files", [None] * len(dataset))[index]
        try:
            img_files, anno = dataset[index][:2]
            anno = np.asarray(anno, dtype=np.float64).reshape(len(img_files), -1)
        except Exception as err:  # got10k's readers: np.loadtxt's ValueError, bare AssertionErrors on lengths
            where = f" ('{anno_file}')" if anno_file else ""
            raise UserError(f"sequence '{name}'{where}: cannot read its frames and boxes "
                            f"({type(err).__name__}: {err}); check that it has one box line per frame") from None
        if anno.shape[1] == 8:  # VOT polygons: their axis-aligned rectangle, as got10k does
            anno = got10k_datasets.VOT._corner2rect(None, anno)
        check_first_box(name, anno, anno_file or "its annotation")
        sequences.append(EvalSequence(name, tuple(img_files), from_one_based(anno)))
    return sequences


# ------------------------------------------------------------------------------------------------ experiments


def make_experiment(bench: Benchmark, result_dir, report_dir, names=None):
    """The got10k experiment for a benchmark, on our already-open dataset (``names``: a subset of sequences).

    Experiments are made with ``__new__`` and their attributes set here, because their ``__init__`` downloads.
    """
    dataset = bench.dataset if names is None else DatasetView(bench.dataset, names)
    if bench.protocol == "vot":
        return OfflineExperimentVOT(dataset, str(result_dir), str(report_dir))
    if bench.protocol == "got10k":
        experiment = ExperimentGOT10k.__new__(ExperimentGOT10k)
        experiment.subset, experiment.nbins_iou, experiment.repetitions = "val", 101, 3
    else:
        # UAV123's experiment leaves out frames without ground truth (NaN rows); the others have none.
        cls = ExperimentUAV123 if bench.kind == "uav123" else ExperimentOTB
        experiment = cls.__new__(cls)
        experiment.nbins_iou, experiment.nbins_ce = 21, 51
    experiment.dataset = dataset
    experiment.result_dir, experiment.report_dir = str(result_dir), str(report_dir)
    return experiment


def run_report(experiment, tracker_names: list[str]) -> dict:
    """got10k's own report (performance.json and its plots under the report dir), quietly and without leaking
    matplotlib settings. GOT-10k's report needs the dataset's meta information, which it switches on itself."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context(), contextlib.redirect_stdout(io.StringIO()):
        return experiment.report(list(tracker_names))


@contextlib.contextmanager
def _numpy_nan_shim():
    """got10k.experiments.vot uses ``np.NaN`` (gone in numpy 2): give that one module a numpy that has it, for
    as long as its code runs; numpy itself is never changed."""
    real_numpy = got10k_vot.np
    if hasattr(real_numpy, "NaN"):  # numpy 1.x
        yield
        return
    got10k_vot.np = _NumpyWithNaN(real_numpy)
    try:
        yield
    finally:
        got10k_vot.np = real_numpy


class _NumpyWithNaN(types.ModuleType):
    def __init__(self, numpy_module) -> None:
        super().__init__("numpy_with_NaN")
        self._numpy = numpy_module
        self.NaN = numpy_module.nan

    def __getattr__(self, name):
        return getattr(self._numpy, name)


class OfflineExperimentVOT(ExperimentVOT):
    """ExperimentVOT (supervised: re-initialise 5 frames after a failure) on an open dataset: no download,
    numpy-2 safe, atomic result files."""

    def __init__(self, dataset, result_dir, report_dir):  # no super().__init__: it downloads
        self.dataset = dataset
        self.experiments = ("supervised",)
        self.read_image = True
        self.result_dir, self.report_dir = result_dir, report_dir
        self.skip_initialize, self.burnin, self.repetitions = 5, 10, 15
        self.sensitive, self.nbins_eao = 100, 1500
        self.tags = ["camera_motion", "illum_change", "occlusion", "size_change", "motion_change", "empty"]

    def run_supervised(self, tracker, visualize=False):
        with _numpy_nan_shim():
            return super().run_supervised(tracker, visualize)

    def report(self, tracker_names):
        with _numpy_nan_shim():
            return super().report(tracker_names)

    def _calc_iou(self, boxes, anno, bound, burnin=False):
        if burnin:  # frames just after a (re-)initialisation do not count (VOT's burn-in)
            boxes = list(boxes)
            for index in [i for i, box in enumerate(boxes) if box == [1.0]]:
                boxes[index:index + self.burnin] = [[0]] * self.burnin
        return np.array([float(poly_iou(np.array(a), b, bound)[0]) if len(a) > 1 else np.nan
                         for a, b in zip(boxes, anno)])

    def _record(self, record_file, boxes, times):
        # got10k's text, written atomically; the time file first, because the record file's presence is what
        # marks a sequence as done.
        lines = ["%d" % box[0] if len(box) == 1 else ",".join("%.4f" % t for t in box) for box in boxes]
        time_lines = [("%.4f" % t).replace("nan", "NaN") for t in times]
        time_file = record_file[:record_file.rfind("_")] + "_time.txt"
        if os.path.exists(time_file):  # later repetitions add a column
            with open(time_file) as handle:
                old_lines = handle.read().strip().split("\n")
            time_lines = [old + "," + new for old, new in zip(old_lines, time_lines)]
        write_text_atomic(time_file, "\n".join(time_lines))
        write_text_atomic(record_file, "\n".join(lines))
