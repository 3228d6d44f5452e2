# PyTorch side of the detection training benchmark (peer: bench/train-detect.ts). One full training
# step per iteration: train-mode forward, the YOLOv8 loss (TAL + BCE + CIoU + DFL) on seeded
# synthetic boxes, backward, AdamW step, on one seeded random batch held in memory, channels-last
# as Kestrel trains detectors. The network and loss are the fixtures' transcriptions of Ultralytics
# (bench/yolo.py). Prints one JSON line: {"imgPerSec", "peakRssMB" (peak resident set size of the
# whole process), "firstLoss" (the loss of the first step, which the same seed makes comparable)}.
# Run with Debian's /usr/bin/python3 by bench/run.mjs:
#   /usr/bin/python3 bench/train-detect.py --model yolov8n --batch N --img S --classes N
#       --boxes N --threads N --steps N --warmup N
import argparse
import json
import time

import torch
from yolo import DETECTORS, detection_loss, detector, synthetic_targets
from zoo import rss_mb

p = argparse.ArgumentParser()
p.add_argument("--model", default="yolov8n", choices=list(DETECTORS))
p.add_argument("--batch", type=int, default=8)
p.add_argument("--img", type=int, default=320)
p.add_argument("--classes", type=int, default=10)
p.add_argument("--boxes", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--warmup", type=int, default=2)
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
model = detector(args.model, args.classes).train().to(memory_format=torch.channels_last)
# AdamW with the weight decay `kestrel train` gives detectors (Ultralytics' 5e-4).
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-4, foreach=True)
crit = detection_loss(args.classes)
x = torch.randn(args.batch, 3, args.img, args.img).contiguous(memory_format=torch.channels_last)
targets = synthetic_targets(args.batch, args.img, args.classes, args.boxes)


def step():
    loss = crit(model(x), targets, [args.img, args.img])[0].sum()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)  # as Kestrel's zeroGrad
    return loss.item()


first = step()
for _ in range(max(0, args.warmup - 1)):
    step()
t0 = time.perf_counter()
for _ in range(args.steps):
    step()
dt = time.perf_counter() - t0
print(json.dumps({"imgPerSec": args.steps * args.batch / dt, "peakRssMB": rss_mb(), "firstLoss": first}))
