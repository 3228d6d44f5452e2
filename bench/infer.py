# PyTorch side of the inference benchmark (peer: bench/infer.ts). Forward passes in eval mode under
# torch.no_grad() (PyTorch eager) on one seeded random batch, after warm-up passes; detectors
# (bench/yolo.py) run channels-last, as Kestrel runs them, and decode their maps; segmentation
# models are torchvision's (weights=None, aux_loss=False), channels-last as well. Prints one JSON
# line: {"msPerBatch": median time of one pass, "imgPerSec": batch x iters / total time}. Run with
# Debian's /usr/bin/python3 by bench/run.mjs:
#   /usr/bin/python3 bench/infer.py --model NAME --batch N --channels C --img S [--classes N]
#       --threads N --iters N --warmup N
import argparse
import json
import statistics
import time

import torch
import torchvision.models.segmentation as segmentation
from yolo import DETECTORS, detector
from zoo import build

p = argparse.ArgumentParser()
p.add_argument("--model", default="resnet18")
p.add_argument("--batch", type=int, default=1)
p.add_argument("--channels", type=int, default=3)
p.add_argument("--img", type=int, default=224)
p.add_argument("--classes", type=int, default=1000)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--iters", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
SEGMENTERS = {"deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large", "fcn_resnet50", "deeplabv3_resnet50"}
if args.model in SEGMENTERS:
    make = getattr(segmentation, args.model)
    net = make(weights=None, weights_backbone=None, num_classes=args.classes, aux_loss=False).eval().to(memory_format=torch.channels_last)
    model = lambda x: net(x)["out"]  # noqa: E731
    x = torch.randn(args.batch, args.channels, args.img, args.img).contiguous(memory_format=torch.channels_last)
elif args.model in DETECTORS:
    model = detector(args.model, args.classes).eval().to(memory_format=torch.channels_last)
    x = torch.randn(args.batch, args.channels, args.img, args.img).contiguous(memory_format=torch.channels_last)
else:
    model = build(args.model, args.channels, args.img, num_classes=args.classes).eval()
    x = torch.randn(args.batch, args.channels, args.img, args.img)
times = []
with torch.no_grad():
    for _ in range(args.warmup):
        model(x)
    for _ in range(max(1, args.iters)):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
print(json.dumps({"msPerBatch": statistics.median(times) * 1000, "imgPerSec": args.batch * len(times) / sum(times)}))
