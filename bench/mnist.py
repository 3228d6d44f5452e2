# PyTorch side of the end-to-end and memory-epochs benchmarks, the peer of
#   kestrel train --data mnist --model smallcnn --epochs N --workers 0   (e2e, through the CLI)
#   node dist/bench/mnist-epochs.js                                      (memory-epochs)
# with Kestrel's defaults for MNIST: torchvision's MNIST (PIL samples) with RandomCrop(28, padding 4)
# + ToTensor + Normalize(mean, std measured on the training images, rounded to 4 places); batch 64,
# shuffled, last partial batch dropped, no worker processes; smallcnn; AdamW (lr 1e-3, weight decay
# 0.05), label smoothing 0.1, per-step schedule: linear warm-up from 0.001x over the first epoch but
# at most a fifth of the run (src/optim/scheduler.ts warmupSteps), then cosine to 0; after each
# epoch an evaluation on the test split (batch 256: loss, softmax, accuracy, top-5), a results.csv row, the best weights and a last checkpoint (model, optimizer,
# scheduler, RNG) saved under --out. Prints one JSON line: {"accuracy": last epoch's,
# "rssMB": {epoch: RSS after that epoch}, "peakRssMB": ...}.
#   /usr/bin/python3 bench/mnist.py --idx-dir DIR --out DIR --epochs N --threads N [--seed S]
import argparse
import csv
import json
import math
import os
import time

import torch
from torch import nn
from torchvision import datasets, transforms
from zoo import rss_mb, small_cnn

p = argparse.ArgumentParser()
p.add_argument("--idx-dir", required=True, help="folder with MNIST's four IDX files (uncompressed)")
p.add_argument("--out", required=True, help="run folder to write (checkpoints, results.csv)")
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
# torchvision's MNIST reads root/MNIST/raw/<the IDX files>.
raw = os.path.join(args.out, "data", "MNIST", "raw")
os.makedirs(raw, exist_ok=True)
for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
    os.symlink(os.path.abspath(os.path.join(args.idx_dir, f)), os.path.join(raw, f))
root = os.path.join(args.out, "data")
train_set = datasets.MNIST(root, train=True)
px = train_set.data.double() / 255
mean, std = round(px.mean().item(), 4), round(px.std(unbiased=False).item(), 4)
norm = [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
train_set.transform = transforms.Compose([transforms.RandomCrop(28, padding=4), *norm])
test_set = datasets.MNIST(root, train=False, transform=transforms.Compose(norm))
train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch, shuffle=True, drop_last=True)
test_loader = torch.utils.data.DataLoader(test_set, batch_size=max(args.batch, 256))

model = small_cnn(1, 10)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
steps = len(train_loader)
total = args.epochs * steps
warm = min(steps, math.floor(0.2 * total))
cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warm)
sched = cosine if warm == 0 else torch.optim.lr_scheduler.SequentialLR(
    opt, [torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.001, total_iters=warm), cosine], milestones=[warm])
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)


def evaluate():
    model.eval()
    loss_sum, correct, top5, n = 0.0, 0, 0, 0
    with torch.no_grad():
        for x, y in test_loader:
            logits = model(x)
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            probs = logits.softmax(1)
            correct += (probs.argmax(1) == y).sum().item()
            top5 += (probs.topk(5, 1).indices == y[:, None]).any(1).sum().item()
            n += len(y)
    return loss_sum / n, correct / n, top5 / n


rss, best, acc = {}, -1.0, 0.0
with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
    log = csv.writer(f)
    log.writerow(["epoch", "train_loss", "val_loss", "val_accuracy", "val_top5", "lr", "seconds"])
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss_sum = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            loss_sum += loss.item()
        val_loss, acc, acc5 = evaluate()
        if acc > best:
            best = acc
            torch.save(model.state_dict(), os.path.join(args.out, "best.pt"))
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "rng": torch.get_rng_state(), "epoch": epoch}, os.path.join(args.out, "last.pt"))
        log.writerow([epoch, loss_sum / steps, val_loss, acc, acc5, sched.get_last_lr()[0], time.perf_counter() - t0])
        f.flush()
        rss[epoch] = rss_mb("VmRSS")
print(json.dumps({"accuracy": acc, "rssMB": rss, "peakRssMB": rss_mb()}))
