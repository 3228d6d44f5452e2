/**
 * Kestrel's deploy-only entry (`kestrel/runtime`): `.onnx` classifiers and detectors on ONNX Runtime, with
 * nothing from the libtorch side, so it loads without the addon.
 *
 * @example
 * import { OnnxClassifier } from 'kestrel/runtime';
 * const clf = await OnnxClassifier.load('model.onnx');
 * console.log(clf.preprocessing.names);
 * await clf.dispose();
 */
export { OnnxClassifier, type ClassifierOptions, type TopK } from './classifier.js';
export { OnnxDetector, type DecodedBatch } from './detector.js';
export { loadPreprocessFile, readNames, resolvePreprocessing, PREPROCESS_KEYS, type ModelShapes, type PreprocessSpec, type Preprocessing } from './preprocess.js';
export { OnnxError, availableProviders, checkProvider, createSession, decodeOnnx, readOnnxFile, type OnnxFile, type SessionOptions } from './session.js';
export { BatchStream, type StreamOptions } from '../data/stream.js';
