# The PyTorch peer of Kestrel's YOLOv8 for the detection benchmarks (bench/train-detect.py,
# bench/infer.py): the network and the loss are the fixture scripts' transcriptions of Ultralytics
# (test/fixtures/gen_yolo.py, gen_yolo_loss.py), imported rather than copied so that the benchmark
# runs the very code Kestrel's tests are checked against. Also synthetic_targets(), the same boxes
# bench/train-detect.ts builds.
import os
import sys

import torch

# Importing the fixture scripts must not leave __pycache__ beside them.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))
_threads = torch.get_num_threads()
import gen_yolo  # noqa: E402
import gen_yolo_loss  # noqa: E402

# gen_yolo sets the fixtures' 2 threads when imported; the benchmark's --threads rules.
torch.set_num_threads(_threads)

DETECTORS = {"yolov8n": "n", "yolov8s": "s"}


def detector(name, nc):
    return gen_yolo.DetectionModel(DETECTORS[name], nc)


def detection_loss(nc):
    crit = gen_yolo_loss.v8DetectionLoss(nc)
    # The fixture's record of tie-dependent anchors is not part of Ultralytics' loss.
    crit.assigner.note_ties = lambda align_metric, mask: None
    return crit


def synthetic_targets(batch, img, nc, per_image, seed=1):
    """Rows (index in batch, class, x1, y1, x2, y2) in pixels: `per_image` boxes 16 to 112 px a
    side in each image, drawn by a 32-bit LCG (integers, so bench/train-detect.ts draws the same)."""
    s = seed

    def draw(n):
        nonlocal s
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        return (s >> 8) % n  # the low bits of an LCG have short periods

    rows = []
    for b in range(batch):
        for _ in range(per_image):
            w, h = 16 + draw(97), 16 + draw(97)
            x1, y1 = draw(img - w + 1), draw(img - h + 1)
            rows.append([b, draw(nc), x1, y1, x1 + w, y1 + h])
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 6)
