#!/usr/bin/python3
"""Exports a Kestrel smallcnn checkpoint (.safetensors) to a float32 ONNX file through PyTorch,
for bench/quant/run.ts until Kestrel's own exporter is in place. Same layers and state-dict keys
as src/models/smallcnn.ts; the adaptive 4x4 average pool (not a divisor of 7x7, which
torch.onnx cannot export) becomes a MatMul with the pooling matrix, as an exporter must do.
    /usr/bin/python3 bench/quant/smallcnn_onnx.py CHECKPOINT OUT.onnx [--bn]
--bn keeps BatchNormalization nodes (PyTorch folds them into the convs by default).
"""
import json
import math
import struct
import sys

import numpy as np
import torch
from torch import nn

ckpt, out = sys.argv[1], sys.argv[2]
keep_bn = '--bn' in sys.argv[3:]
raw = open(ckpt, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = json.loads(header.pop('__metadata__')['kestrel'])
DT = {'F32': np.float32, 'I64': np.int64}
state = {}
for k, v in header.items():
    a, b = v['data_offsets']
    state[k] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype=DT[v['dtype']]).reshape(v['shape']).copy())


def pool_matrix(size, grid):
    # AdaptiveAvgPool: bin i covers [floor(i*size/grid), ceil((i+1)*size/grid)).
    m = torch.zeros(size * size, grid * grid)
    for i in range(grid):
        for j in range(grid):
            ys = range(math.floor(i * size / grid), math.ceil((i + 1) * size / grid))
            xs = range(math.floor(j * size / grid), math.ceil((j + 1) * size / grid))
            for y in ys:
                for x in xs:
                    m[y * size + x, i * grid + j] = 1 / (len(ys) * len(xs))
    return m


class SmallCNN(nn.Module):
    def __init__(self, cin, classes, img):
        super().__init__()
        cbr = lambda i, o: [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
        self.features = nn.Sequential(*cbr(cin, 32), *cbr(32, 32), nn.MaxPool2d(2), *cbr(32, 64), *cbr(64, 64), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(1024, 128), nn.ReLU(), nn.Dropout(), nn.Linear(128, classes))
        self.register_buffer('pool', pool_matrix(img // 4, 4), persistent=False)

    def forward(self, x):
        x = self.features(x)
        x = (x.flatten(2) @ self.pool).flatten(1)
        return self.classifier(x)


cfg = meta['model']
model = SmallCNN(cfg['inChannels'], cfg['numClasses'], cfg['imgSize']).eval()
model.load_state_dict(state)
x = torch.zeros(1, cfg['inChannels'], cfg['imgSize'], cfg['imgSize'])
torch.onnx.export(model, x, out, input_names=['images'], output_names=['logits'], opset_version=17,
                  dynamic_axes={'images': {0: 'N'}, 'logits': {0: 'N'}},
                  training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL,
                  do_constant_folding=not keep_bn)
print(out, 'written;', 'accuracy in checkpoint', meta.get('metrics', {}).get('accuracy'))
