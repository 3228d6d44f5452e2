# PyTorch side of bench/tfjs-precision.ts: runs an ONNX graph (the ops of the converted CenterNet)
# op by op in float64 and in float32, so the float32 runs of ONNX Runtime and TF.js can be measured
# against a float64 result of the same graph. Writes each graph output as raw float64, named
# <output>.<dtype>.f64, into the output folder. Run with Debian's /usr/bin/python3:
#   /usr/bin/python3 bench/onnx_f64.py MODEL.onnx INPUT.f32 N,C,H,W OUT_DIR
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def pad_nchw(x, p, value=0.0):
    """ONNX's [top, left, bottom, right] pads on an NCHW tensor."""
    return F.pad(x, (p[1], p[3], p[0], p[2]), value=value)


def resize_asymmetric(x, size, dtype):
    """Resize (mode linear, coordinate_transformation_mode asymmetric): source = destination · in/out."""
    _, _, h, w = x.shape
    oh, ow = size

    def axis(o, n):
        s = torch.arange(o, dtype=torch.float64) * (n / o)
        lo = s.floor().long().clamp(max=n - 1)
        return lo, (lo + 1).clamp(max=n - 1), (s - lo).to(dtype)

    ylo, yhi, fy = axis(oh, h)
    xlo, xhi, fx = axis(ow, w)
    at = lambda ys, xs: x[:, :, ys][:, :, :, xs]
    fy, fx = fy.view(1, 1, -1, 1), fx.view(1, 1, 1, -1)
    top = at(ylo, xlo) + (at(ylo, xhi) - at(ylo, xlo)) * fx
    bottom = at(yhi, xlo) + (at(yhi, xhi) - at(yhi, xlo)) * fx
    return top + (bottom - top) * fy


def run(model, x, dtype):
    env = {}
    for t in model.graph.initializer:
        a = torch.from_numpy(numpy_helper.to_array(t).copy())
        env[t.name] = a.to(dtype) if a.is_floating_point() else a
    env[model.graph.input[0].name] = torch.from_numpy(x).to(dtype)
    for n in model.graph.node:
        a = {k.name: onnx.helper.get_attribute_value(k) for k in n.attribute}
        i = [env[k] if k else None for k in n.input]
        op = n.op_type
        if op == 'Conv':
            y = F.conv2d(pad_nchw(i[0], list(a.get('pads', [0] * 4))), i[1], i[2] if len(i) > 2 else None,
                         list(a.get('strides', [1, 1])), 0, list(a.get('dilations', [1, 1])), a.get('group', 1))
        elif op == 'MaxPool':
            y = F.max_pool2d(pad_nchw(i[0], list(a.get('pads', [0] * 4)), -float('inf')), list(a['kernel_shape']), list(a.get('strides', [1, 1])))
        elif op == 'Resize':
            assert a['mode'] == b'linear' and a['coordinate_transformation_mode'] == b'asymmetric', a
            y = resize_asymmetric(i[0], [int(v) for v in i[3][2:]], dtype)
        elif op in ('Add', 'Sub', 'Mul'):
            y = {'Add': torch.add, 'Sub': torch.sub, 'Mul': torch.mul}[op](i[0], i[1])
        elif op == 'Div':
            y = i[0] / i[1] if i[0].is_floating_point() else torch.div(i[0], i[1], rounding_mode='trunc')
        elif op == 'Mod':
            y = torch.remainder(i[0], i[1])
        elif op == 'Clip':
            y = torch.clamp(i[0], i[1].item(), i[2].item())
        elif op == 'Relu':
            y = F.relu(i[0])
        elif op == 'Sigmoid':
            y = torch.sigmoid(i[0])
        elif op == 'ReduceMean':
            y = i[0].mean(dim=list(a['axes']), keepdim=bool(a.get('keepdims', 1)))
        elif op == 'Concat':
            y = torch.cat([t.to(i[0].dtype) for t in i], dim=a['axis'])
        elif op == 'Cast':
            y = i[0].to({1: dtype, 6: torch.int32, 7: torch.int64, 9: torch.bool}[a['to']])
        elif op == 'Transpose':
            y = i[0].permute(*a['perm'])
        elif op == 'Reshape':
            y = i[0].reshape(*[int(v) for v in i[1]])
        elif op == 'Unsqueeze':
            y = i[0].unsqueeze(int(i[1][0]))
        elif op == 'Slice':
            y = i[0]
            for start, end, ax in zip(i[1].tolist(), i[2].tolist(), i[3].tolist()):
                y = y.narrow(ax, start, min(end, y.shape[ax]) - start)
        elif op == 'Equal':
            y = i[0] == i[1]
        elif op == 'Gather':
            ax = a.get('axis', 0)
            y = torch.index_select(i[0], ax, i[1].reshape(-1).long()).reshape(*i[0].shape[:ax], *i[1].shape, *i[0].shape[ax + 1:])
        elif op == 'TopK':
            env[n.output[0]], env[n.output[1]] = torch.topk(i[0], int(i[1][0]), dim=a.get('axis', -1))
            continue
        else:
            raise SystemExit(f'onnx_f64.py: op {op} is not implemented')
        env[n.output[0]] = y
    return {o.name: env[o.name] for o in model.graph.output}


if __name__ == '__main__':
    path, inp, shape, out = sys.argv[1:5]
    torch.set_num_threads(1)
    model = onnx.load(path)
    x = np.fromfile(inp, dtype=np.float32).reshape([int(d) for d in shape.split(',')])
    for name, dtype in (('f64', torch.float64), ('f32', torch.float32)):
        for k, v in run(model, x, dtype).items():
            v.to(torch.float64).numpy().tofile(f'{out}/{k}.{name}.f64')
