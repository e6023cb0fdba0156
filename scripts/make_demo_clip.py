"""Make the demo clip shipped in twintrack/app/demo/ (run once; the output is committed).

A virtual camera pans and zooms over matplotlib's sample photo of Grace Hopper (a file of a dependency, so the
clip's source needs no download); the target is her face, whose box in every frame follows from the camera path.
"""

import json
from pathlib import Path

import cv2
import matplotlib
import numpy as np

FACE_BOX = np.array([178.0, 122.0, 168.0, 184.0])  # x, y, w, h in the photo (0-based), picked by eye
OUT_W, OUT_H, FRAMES, FPS = 320, 240, 100, 25


def main() -> None:
    photo_path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    photo = cv2.imread(str(photo_path))
    out_dir = Path(__file__).resolve().parents[1] / "twintrack" / "app" / "demo"
    writer = cv2.VideoWriter(str(out_dir / "demo_clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (OUT_W, OUT_H))
    boxes = []
    for i in range(FRAMES):
        t = i / (FRAMES - 1)
        # Camera window: width swings between 560 and 380 photo pixels, centre wanders over the photo.
        view_w = 470 + 90 * np.cos(2 * np.pi * t)
        scale = view_w / OUT_W  # photo pixels per output pixel
        cx = 256 + 110 * np.sin(2 * np.pi * t)
        cy = 250 + 50 * np.sin(4 * np.pi * t + 0.5)
        tx, ty = cx - OUT_W / 2 * scale, cy - OUT_H / 2 * scale
        matrix = np.array([[scale, 0, tx - 0.5 + scale * 0.5], [0, scale, ty - 0.5 + scale * 0.5]])
        frame = cv2.warpAffine(photo, matrix, (OUT_W, OUT_H), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
        writer.write(frame)
        x, y, w, h = FACE_BOX
        boxes.append([(x - tx) / scale, (y - ty) / scale, w / scale, h / scale])
    writer.release()
    meta = {"source": "matplotlib sample_data/grace_hopper.jpg, virtual camera pan and zoom", "fps": FPS,
            "init_box": [round(v, 2) for v in boxes[0]], "boxes": [[round(v, 2) for v in b] for b in boxes]}
    (out_dir / "demo_clip.json").write_text(json.dumps(meta))


if __name__ == "__main__":
    main()
