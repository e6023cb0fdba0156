"""A TraX server for vot-toolkit: ``python -m twintrack.eval.vot_trax --tracker siamfc`` (or a baseline).

vot-toolkit starts this command once per sequence run and sends image paths and rectangles over TraX (the
``trax`` package of vot-trax). TraX rectangles from the Python toolkit are 0-based pixel coordinates ``x, y, w, h``,
as ours are, so boxes pass through unchanged; the recipe is in docs/vot.md.
"""

from __future__ import annotations

import argparse
import sys

from twintrack.eval.baselines import BASELINES
from twintrack.eval.jobs import TrackerSpec
from twintrack.tracker.sources import read_image


def serve(spec: TrackerSpec) -> None:
    import trax
    from trax.region import Rectangle

    tracker = None
    with trax.Server([trax.Region.RECTANGLE], [trax.Image.PATH], metadata=dict(vot="python")) as server:
        while True:
            request = server.wait()
            if request.type == trax.TraxStatus.QUIT:
                break
            frame = read_image(request.image[trax.ImageChannel.COLOR].path())
            if request.type == trax.TraxStatus.INITIALIZE:
                region, _ = request.objects[0]
                tracker = spec.build()
                tracker.init(frame, region.bounds())
                server.status([(region, {})])
            else:
                result = tracker.update(frame)
                x, y, w, h = (float(v) for v in result.box)
                server.status([(Rectangle.create(x, y, w, h), {"confidence": f"{result.score:.4f}"})])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twintrack.eval.vot_trax", description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", required=True, help=f"siamfc, mdnet or a baseline ({', '.join(BASELINES)})")
    parser.add_argument("--weights")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    serve(TrackerSpec(args.tracker, baseline=args.tracker in BASELINES, weights=args.weights, device=args.device,
                      seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
