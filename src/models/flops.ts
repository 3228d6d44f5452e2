/**
 * FLOPs of a model counted from its ONNX graph, so every exportable model is counted the same way
 * without a hand-written formula per family: 2 × the multiply-adds of Conv, ConvTranspose, Gemm and
 * MatMul, with shapes from the export's static shape rules. Batch norms, activations and resizes
 * are left out (as thop and Ultralytics leave them out of a fused model).
 */
import type { Module } from '../nn/module.js';
import { OnnxGraph, type AttrValue, type OnnxValue } from '../onnx/graph.js';
import type { Dim } from '../onnx/shape.js';
import type { DataTypeCode } from '../onnx/proto.js';
import type { Tensor } from '../tensor/tensor.js';

const numel = (shape: readonly Dim[]): number => shape.reduce<number>((n, d) => n * (typeof d === 'number' ? d : 1), 1);

/** An export graph that tallies multiply-adds as nodes are added. */
class CountingGraph extends OnnxGraph {
  macs = 0;

  override op(type: string, inputs: readonly (OnnxValue | null)[], attrs: Readonly<Record<string, AttrValue>> = {}, o: { shape?: readonly Dim[]; dtype?: DataTypeCode } = {}): OnnxValue {
    const out = super.op(type, inputs, attrs, o);
    const w = inputs[1]?.shape;
    if (type === 'Conv' && w) this.macs += numel(out.shape) * numel(w.slice(1));
    else if (type === 'ConvTranspose' && w) this.macs += numel(inputs[0]!.shape) * numel(w.slice(1));
    else if ((type === 'Gemm' || type === 'MatMul') && w) this.macs += numel(out.shape) * Number(inputs[0]!.shape[inputs[0]!.shape.length - 1]);
    return out;
  }
}

/** GFLOPs of one eval forward of `model` on one [channels, h, w] image. */
export function graphGflops(model: Module<never, unknown>, channels: number, imgsz: number | [number, number]): number {
  const [h, w] = typeof imgsz === 'number' ? [imgsz, imgsz] : imgsz;
  const names = new Map<Tensor, string>([...model.namedParameters(), ...model.namedBuffers()].map(([k, t]) => [t, k]));
  const g = new CountingGraph({ names });
  model.toOnnx(g, g.input('images', [1, channels, h, w]));
  return (2 * g.macs) / 1e9;
}
