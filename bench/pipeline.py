# PyTorch side of the input-pipeline benchmark (peer: bench/pipeline.ts): torchvision's ImageFolder
# (PIL decoding) and DataLoader over a folder of JPEGs with RandomResizedCrop(224),
# RandomHorizontalFlip, ToTensor, Normalize (ImageNet's); batches of `batch`, shuffled, last partial
# batch dropped, `workers` worker processes kept across epochs (as Kestrel's loader keeps its
# threads). One warm-up epoch, then `epochs` timed epochs. Prints one JSON line:
# {"imgPerSec": ...}.
#   /usr/bin/python3 bench/pipeline.py --dir DIR --batch 32 --workers N --epochs 2 --threads N
import argparse
import json
import time

import torch
from torchvision import datasets, transforms

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--workers", type=int, default=0)
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
tf = transforms.Compose([
    transforms.RandomResizedCrop(224),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])
loader = torch.utils.data.DataLoader(
    datasets.ImageFolder(args.dir, transform=tf), batch_size=args.batch, shuffle=True, drop_last=True,
    num_workers=args.workers, persistent_workers=args.workers > 0,
)
for _ in loader:
    pass
n = 0
t0 = time.perf_counter()
for _ in range(max(1, args.epochs)):
    for images, _labels in loader:
        n += images.shape[0]
dt = time.perf_counter() - t0
print(json.dumps({"imgPerSec": n / dt}))
