# PyTorch side of the training benchmark (peer: bench/train.ts). One full training step per
# iteration (forward, cross-entropy, backward, optimizer step) on synthetic, seeded tensors held in
# memory; the same architectures as Kestrel's zoo (bench/zoo.py). Prints one JSON line:
# {"imgPerSec": ..., "peakRssMB": ...} (peak resident set size of the whole process).
# Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision) by bench/run.mjs:
#   /usr/bin/python3 bench/train.py --model NAME --batch N --channels C --img S [--patch P]
#       --opt adam|sgd|adamw --threads N --steps N --warmup N
import argparse
import json
import time

import torch
from torch import nn
from zoo import build, rss_mb

p = argparse.ArgumentParser()
p.add_argument("--model", default="smallcnn")
p.add_argument("--batch", type=int, default=64)
p.add_argument("--channels", type=int, default=3)
p.add_argument("--img", type=int, default=32)
p.add_argument("--patch", type=int, default=None)
p.add_argument("--opt", default="adam", choices=["adam", "adamw", "sgd"])
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
model = build(args.model, args.channels, args.img, args.patch)
model.train()
params = model.parameters()
if args.opt == "adam":
    opt = torch.optim.Adam(params, lr=1e-3, foreach=True)
elif args.opt == "adamw":
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05, foreach=True)
else:
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=True)
x = torch.randn(args.batch, args.channels, args.img, args.img)
y = torch.randint(0, 10, (args.batch,))


def step():
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)  # as Kestrel's zeroGrad


for _ in range(args.warmup):
    step()
t0 = time.perf_counter()
for _ in range(args.steps):
    step()
dt = time.perf_counter() - t0
print(json.dumps({"imgPerSec": args.steps * args.batch / dt, "peakRssMB": rss_mb()}))
