/** The ONNX file of a converted TF.js model: the graph, its opset, and metadata (the deployment contract when Kestrel knows the model). */
import type { OnnxGraph } from '../onnx/graph.js';
import { encodeModel, type StringStringEntryProto } from '../onnx/proto.js';
import { packageVersion } from '../paths.js';

/** ONNX IR version 8 (onnx 1.10+), what src/export writes too. */
const IR_VERSION = 8;

export function encodeConverted(g: OnnxGraph, name: string, doc: string, props: StringStringEntryProto[] = []): Uint8Array {
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: g.opset }],
    producerName: 'kestrel',
    producerVersion: packageVersion(),
    docString: doc,
    graph: g.graph(name),
    ...(props.length > 0 ? { metadataProps: props } : {}),
  });
}
