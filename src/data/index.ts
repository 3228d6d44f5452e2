/** The data layer: data sets, image decoding, transforms, the loader, batch mixing. */
export { DataError, ImageError, PipelineError, imageError, type ImageProblem } from './errors.js';
export { resolveClassifyData, type ResolveOptions } from './sources.js';
export { KNOWN_DATASETS, FASHION_MNIST_CLASSES, fashionMnistDir } from './named.js';
export { FULL_VERIFY_LIMIT, type VerifyMode } from './scan.js';
export { sourceLength, sampleId, subset, type ClassifyData, type DataSource, type MemorySource, type FileSource, type Skipped } from './source.js';
export { stratifiedSplit } from './split.js';
export { decodeImage, checkImage, isImagePath, IMAGE_EXTENSIONS, DEFAULT_MAX_PIXELS, type DecodedImage, type DecodeOptions } from './image.js';
export { fitPipeline, pipelineOutputSize } from './input-size.js';
export { applyTransform, applyTransforms, rrcParams, type TransformSpec, type Img } from './transforms.js';
export { buildTransforms, IMAGENET_MEAN, IMAGENET_STD, type AugmentLevel, type PresetOptions } from './presets.js';
export { AUGMENT_OPS, type AugmentOp } from './augment.js';
export { parseTransforms } from './transform-schema.js';
export { Rng, mixSeed, epochPermutation } from './rng.js';
export { DataLoader, type Batch, type LoaderOptions } from './loader.js';
export { BatchStream, defaultWorkers, type StreamOptions } from './stream.js';
export { mixup, cutmix, cutmixBox, type Mixed } from './mix.js';
export { readIdx, parseIdx, IdxError, type IdxArray } from './idx.js';
export { loadMnist, loadIdxPair, mnistDir, type ImageSet } from './mnist.js';
