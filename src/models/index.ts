export {
  MODELS, createModel, createDetector, createSegmenter, buildModel, listModels, modelNames, isModelName, isDetectorName, isSegmenterName, defaultPatchSize,
  type ClassifierEntry, type ClassifierName, type DetectorEntry, type DetectorName, type DetectorOptions,
  type SegmenterEntry, type SegmenterName, type SegmenterOptions,
  type ModelEntry, type ModelInfo, type ModelName, type TaskModel,
} from './registry.js';
export {
  Classifier, ResettableLinear, type ClassifierModel, type DetectOutput, type DetectorModel, type ForwardHeadOptions, type ModelConfig, type ModelOptions,
  type SegmentationModel,
} from './model.js';
export { IntermediateLayers, isPyramidBackbone, stageTaps, runTaps, onnxTaps, type PyramidBackbone, type PyramidLevel, type FeatureTaps, type LayerStride } from './pyramid.js';
export { SegmentationNet } from './segmentation.js';
export { buildBackbone, DETECT_BACKBONES, isDetectBackbone, isSegmentBackbone, SEGMENT_BACKBONES, type DetectBackbone, type SegmentBackbone } from './backbones.js';
export { FCNHead, ASPP, ASPPPooling, DeepLabHead, LRASPPHead } from './seg-heads.js';
export { UNet, DoubleConv, Down, Up, OutConv, UNET_DEFAULTS } from './unet.js';
export { graphGflops } from './flops.js';
export { convNormAct, makeDivisible, SqueezeExcitation, initTorchvision, runLayers } from './layers.js';
export { SmallCNN } from './smallcnn.js';
export { ResNet, BasicBlock, Bottleneck, type ResNetOptions } from './resnet.js';
export { MobileNetV2, MobileNetV3, InvertedResidualV2, InvertedResidualV3, type MobileNetV3Options } from './mobilenet.js';
export { EfficientNet, MBConv } from './efficientnet.js';
export { VisionTransformer, PatchEmbed, Attention, Mlp, Block, type VitOptions } from './vit.js';
export { YOLOv8, YOLOV8_SCALES, type YoloScale } from './yolo.js';
export { Conv, Bottleneck as YoloBottleneck, C2f, SPPF, Upsample, Concat, YOLO_BN } from './yolo-blocks.js';
export { Detect, DFL, anchors, dist2bbox, dflExpectation, decode, YOLO_STRIDES, REG_MAX, type AnchorOptions, type DecodeOptions } from './yolo-head.js';
