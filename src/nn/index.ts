export { Module, type LoadResult } from './module.js';
export { Linear, Identity, Flatten } from './linear.js';
export { Conv2d, ConvTranspose2d } from './conv.js';
export { BatchNorm2d, LayerNorm, GroupNorm } from './norm.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d } from './pooling.js';
export { ReLU, ReLU6, LeakyReLU, GELU, SiLU, Hardswish, Hardsigmoid, Sigmoid, Tanh, Mish, Softmax, Dropout, type ActivationOptions } from './activation.js';
export { Sequential, ModuleList } from './container.js';
export { Embedding } from './embedding.js';
export { MultiheadAttention, type MultiheadAttentionCall, type AttentionResult } from './attention.js';
export { CrossEntropyLoss, BCEWithLogitsLoss, MSELoss, L1Loss, SmoothL1Loss } from './loss.js';
export {
  diceLoss, focalLoss, cellHistogramLoss, SegmentationLoss, medianFrequencyWeights,
  type DiceOptions, type FocalOptions, type CellHistogramOptions, type SegmentationLossOptions, type SegmentationLossTerm,
} from './segment-loss.js';
export * as F from './functional.js';
export * as init from './init.js';
export { StochasticDepth, stochasticDepth, type StochasticDepthMode } from './stochastic-depth.js';
