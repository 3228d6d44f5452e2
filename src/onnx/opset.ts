/**
 * The ONNX opsets the exporter writes: from 13 (Softmax over one axis, Squeeze/Unsqueeze/Slice
 * axes as inputs) to 17 (LayerNormalization; the last with ReduceMean's axes as an attribute, and
 * the newest that Debian's onnx 1.12 checker knows). Kept free of imports so the CLI can parse
 * `--opset` without loading protobufjs.
 */
export const MIN_OPSET = 13;
export const MAX_OPSET = 17;
