export {
  MODELS, createModel, createDetector, buildModel, listModels, modelNames, isModelName, isDetectorName, defaultPatchSize,
  type ClassifierEntry, type ClassifierName, type DetectorEntry, type DetectorName, type DetectorOptions,
  type ModelEntry, type ModelInfo, type ModelName, type TaskModel,
} from './registry.js';
export {
  Classifier, ResettableLinear, type ClassifierModel, type DetectOutput, type DetectorModel, type ForwardHeadOptions, type ModelConfig, type ModelOptions,
} from './model.js';
export { convNormAct, makeDivisible, SqueezeExcitation, initTorchvision, runLayers } from './layers.js';
export { SmallCNN } from './smallcnn.js';
export { ResNet, BasicBlock, Bottleneck } from './resnet.js';
export { MobileNetV2, MobileNetV3, InvertedResidualV2, InvertedResidualV3 } from './mobilenet.js';
export { EfficientNet, MBConv } from './efficientnet.js';
export { VisionTransformer, PatchEmbed, Attention, Mlp, Block, type VitOptions } from './vit.js';
export { YOLOv8, YOLOV8_SCALES, type YoloScale } from './yolo.js';
export { Conv, Bottleneck as YoloBottleneck, C2f, SPPF, Upsample, Concat, YOLO_BN } from './yolo-blocks.js';
export { Detect, DFL, anchors, dist2bbox, dflExpectation, decode, YOLO_STRIDES, REG_MAX, type AnchorOptions, type DecodeOptions } from './yolo-head.js';
