# The PyTorch peers of Kestrel's zoo models used by the benchmarks (bench/train.py, infer.py,
# mnist.py): torchvision's resnet18 and mobilenet_v2, and hand-written smallcnn and vit_tiny with
# Kestrel's layouts. Also rss_mb(), read from /proc as bench/rss.ts does.
import torch
from torch import nn


def rss_mb(field="VmHWM"):
    # MiB. VmHWM: peak resident set size; VmRSS: current. Linux /proc, as bench/rss.ts.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def small_cnn(cin, num_classes, drop=0.25):
    # src/models/smallcnn.ts: conv32-BN-ReLU x2, maxpool, conv64-BN-ReLU x2, maxpool, adaptive avg
    # pool 4x4, dropout .25, Linear(1024, 128), ReLU, dropout .5, Linear(128, classes).
    return nn.Sequential(
        *conv_bn_relu(cin, 32), *conv_bn_relu(32, 32), nn.MaxPool2d(2),
        *conv_bn_relu(32, 64), *conv_bn_relu(64, 64), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        nn.Dropout(drop), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Dropout(min(1.0, 2 * drop)),
        nn.Linear(128, num_classes),
    )


class Attention(nn.Module):
    # timm's Attention: packed qkv (with bias), softmax(q k^T / sqrt(d)) v per head, projection.
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    # timm's vit_tiny: conv patch embed (dim 192), class token, learned position embeddings,
    # 12 pre-norm blocks (3 heads, MLP 768, GELU), LayerNorm eps 1e-6, class-token pooling, head.
    def __init__(self, img, patch, cin, num_classes, dim=192, depth=12, heads=3, mlp_ratio=4):
        super().__init__()
        self.patch_embed = nn.Conv2d(cin, dim, patch, stride=patch)
        n = (img // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        t = self.patch_embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(t))[:, 0])


def build(name, cin, img, patch=None, num_classes=10):
    if name == "smallcnn":
        return small_cnn(cin, num_classes)
    if name == "vit_tiny":
        return VisionTransformer(img, patch or 16, cin, num_classes)
    import torchvision

    if name == "resnet18":
        m = torchvision.models.resnet18(num_classes=num_classes)
        if cin != 3:
            m.conv1 = nn.Conv2d(cin, 64, 7, stride=2, padding=3, bias=False)
        return m
    if name == "mobilenet_v2":
        m = torchvision.models.mobilenet_v2(num_classes=num_classes)
        if cin != 3:
            m.features[0][0] = nn.Conv2d(cin, 32, 3, stride=2, padding=1, bias=False)
        return m
    raise SystemExit(f"unknown model {name}")
