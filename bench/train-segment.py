# PyTorch side of the segmentation training benchmark (peer: bench/train-segment.ts). One full
# training step per iteration: train-mode forward, per-pixel cross-entropy against a seeded random
# mask, backward, AdamW step, on one seeded random batch held in memory, channels-last as Kestrel
# trains. The U-Net is bench/unet.py (milesial/Pytorch-UNet's layout, which Kestrel's unet keeps).
# Prints one JSON line: {"imgPerSec", "peakRssMB" (peak resident set size of the whole process),
# "firstLoss" (the loss of the first step, which the same seed makes comparable)}.
# Run with Debian's /usr/bin/python3 by bench/run.mjs:
#   /usr/bin/python3 bench/train-segment.py --model unet --batch N --channels C --img S
#       --classes N --threads N --steps N --warmup N
import argparse
import json
import time

import torch
from unet import UNet
from zoo import rss_mb

p = argparse.ArgumentParser()
p.add_argument("--model", default="unet", choices=["unet"])
p.add_argument("--batch", type=int, default=8)
p.add_argument("--channels", type=int, default=1)
p.add_argument("--img", type=int, default=128)
p.add_argument("--classes", type=int, default=11)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--warmup", type=int, default=2)
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
model = UNet(args.channels, args.classes).train().to(memory_format=torch.channels_last)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4, foreach=True)
x = torch.randn(args.batch, args.channels, args.img, args.img).contiguous(memory_format=torch.channels_last)
masks = torch.randint(0, args.classes, (args.batch, args.img, args.img))


def step():
    loss = torch.nn.functional.cross_entropy(model(x), masks)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)  # as Kestrel's zeroGrad
    return loss.item()


first_loss = step()
for _ in range(1, args.warmup):
    step()
t0 = time.perf_counter()
for _ in range(args.steps):
    step()
dt = time.perf_counter() - t0
print(json.dumps({"imgPerSec": args.steps * args.batch / dt, "peakRssMB": rss_mb(), "firstLoss": first_loss}))
