#!/usr/bin/python3
"""Exports randomly initialised zoo architectures to float32 ONNX (opset 17, dynamic batch) for
bench/quant/zoo.ts, which checks that Kestrel's int8 and fp16 conversions handle the ops each
family brings (depthwise convs and ReLU6, HardSwish and squeeze-excite, SiLU, LayerNorm/GELU/
attention). BatchNorm statistics are randomised so folding has something to fold.
    /usr/bin/python3 bench/quant/zoo_onnx.py OUT_DIR
"""
import os
import sys

import torch
import torchvision
from torch import nn

out = sys.argv[1]
sys.argv = sys.argv[:1]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..'))
try:
    from zoo import VisionTransformer  # bench/zoo.py: the PyTorch peers of Kestrel's zoo
except ImportError:  # older trees define it in bench/train.py, before its argument parsing
    src = open(os.path.join(here, '..', 'train.py')).read()
    exec(src[:src.index('torch.set_num_threads')])

torch.manual_seed(0)
os.makedirs(out, exist_ok=True)


def export(m, name, img):
    m.eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.normal_(0, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    torch.onnx.export(m, torch.randn(1, 3, img, img), os.path.join(out, f'{name}.onnx'), input_names=['images'],
                      output_names=['logits'], opset_version=17, dynamic_axes={'images': {0: 'N'}, 'logits': {0: 'N'}})
    print(name, img)


export(torchvision.models.resnet18(num_classes=10), 'resnet18', 64)
export(torchvision.models.mobilenet_v2(num_classes=10), 'mobilenet_v2', 64)
export(torchvision.models.mobilenet_v3_small(num_classes=10), 'mobilenet_v3_small', 64)
export(torchvision.models.efficientnet_b0(num_classes=10), 'efficientnet_b0', 64)
export(VisionTransformer(32, 4, 3, 10, depth=4), 'vit_tiny', 32)
