"""``python -m twintrack.cli.vot_trax --tracker NAME``: the TraX server vot-toolkit starts per sequence run.

The server itself is ``twintrack.eval.vot_trax.serve``; docs/vot.md has the vot-toolkit recipe.
"""

from __future__ import annotations

import argparse
import sys

from twintrack.app.api import create_tracker
from twintrack.cli.common import DEVICE_HELP
from twintrack.eval.baselines import BASELINES
from twintrack.eval.jobs import TrackerSpec
from twintrack.eval.vot_trax import serve
from twintrack.app.registry import list_trackers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twintrack.cli.vot_trax", description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", required=True,
                        help=f"a twintrack tracker ({', '.join(list_trackers())}) or a baseline ({', '.join(BASELINES)})")
    parser.add_argument("--weights")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    serve(TrackerSpec(args.tracker, factory=create_tracker, baseline=args.tracker in BASELINES, weights=args.weights,
                      device=args.device,
                      seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
