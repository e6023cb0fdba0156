"""A TraX server for vot-toolkit, started as ``python -m twintrack.cli.vot_trax --tracker siamfc`` (or a baseline).

vot-toolkit starts this command once per sequence run and sends image paths and rectangles over TraX (the
``trax`` package of vot-trax). TraX rectangles from the Python toolkit are 0-based pixel coordinates ``x, y, w, h``,
as ours are, so boxes pass through unchanged; the recipe is in docs/vot.md.
"""

from __future__ import annotations

from twintrack.eval.jobs import TrackerSpec
from twintrack.data.images import read_image
from twintrack.optional import require


def serve(spec: TrackerSpec) -> None:
    trax = require("trax", "the vot-toolkit TraX server", extra="vot")
    Rectangle = require("trax.region", "the vot-toolkit TraX server", extra="vot").Rectangle

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
