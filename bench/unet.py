# U-Net in the layout of milesial/Pytorch-UNet (bilinear=False: transposed-conv upsampling),
# generalised to `depth` poolings from `width` channels: the PyTorch peer of Kestrel's unet for the
# benchmarks (bench/train-segment.py), and the reference of test/fixtures/gen_segment.py.
import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class OutConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, in_channels, num_classes, depth=4, width=16):
        super().__init__()
        self.depth = depth
        self.inc = DoubleConv(in_channels, width)
        for i in range(1, depth + 1):
            setattr(self, f'down{i}', Down(width << (i - 1), width << i))
        for i in range(1, depth + 1):
            setattr(self, f'up{i}', Up(width << (depth - i + 1), width << (depth - i)))
        self.outc = OutConv(width, num_classes)

    def forward(self, x):
        skips = [self.inc(x)]
        for i in range(1, self.depth + 1):
            skips.append(getattr(self, f'down{i}')(skips[-1]))
        y = skips.pop()
        for i in range(1, self.depth + 1):
            y = getattr(self, f'up{i}')(y, skips.pop())
        return self.outc(y)
