export { MODELS, createModel, listModels, modelNames, isModelName, defaultPatchSize, type ModelEntry, type ModelInfo, type ModelName } from './registry.js';
export {
  Classifier, ResettableLinear, type ClassifierModel, type ForwardHeadOptions, type ModelConfig, type ModelOptions,
} from './model.js';
export { convNormAct, makeDivisible, SqueezeExcitation, initTorchvision, runLayers } from './layers.js';
export { SmallCNN } from './smallcnn.js';
export { ResNet, BasicBlock, Bottleneck } from './resnet.js';
export { MobileNetV2, MobileNetV3, InvertedResidualV2, InvertedResidualV3 } from './mobilenet.js';
export { EfficientNet, MBConv } from './efficientnet.js';
export { VisionTransformer, PatchEmbed, Attention, Mlp, Block, type VitOptions } from './vit.js';
