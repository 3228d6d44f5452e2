/**
 * The segmentation half of the model table: the entries registry.ts merges into MODELS, and the
 * checks of the options only segmentation models take (a head's backbone, U-Net's depth and width).
 */
import type { ModelConfig, SegmentationModel } from './model.js';
import { checkPositiveInt } from './model.js';
import type { ModelEntry } from './registry.js';
import { deeplabv3, deeplabv3MobilenetV3Large, deeplabv3Resnet50, fcnResnet50, isSegmentBackbone, lraspp, lrasppMobilenetV3Large, SEGMENT_BACKBONES } from './segmentation.js';
import { unet, UNET_DEFAULTS } from './unet.js';

export type SegmenterName =
  | 'unet' | 'fcn_resnet50' | 'deeplabv3_resnet50' | 'deeplabv3_mobilenet_v3_large' | 'lraspp_mobilenet_v3_large' | 'deeplabv3' | 'lraspp';
export type SegmenterEntry = ModelEntry<SegmentationModel, 'segment'>;

/** What createSegmenter() accepts; every field has a per-model default. */
export interface SegmenterOptions {
  /** Classes, background included (default 21, Pascal VOC's, as torchvision). */
  numClasses?: number;
  /** Input image channels (default 3; 1 for grey scans). */
  inChannels?: number;
  /** Nominal input side (any size runs; the output always has the input's size). */
  imgSize?: number;
  /** deeplabv3 and lraspp: the zoo CNN under the head. */
  backbone?: string;
  /** unet: poolings (default 4). */
  depth?: number;
  /** unet: channels at full resolution (default 16). */
  width?: number;
  /** unet: class heads on the coarse levels for deep supervision (training only). */
  auxHeads?: boolean;
}

const TORCHVISION_SEG = 'torchvision layout and names (aux_loss=False), so its weights load by name';

export const SEGMENTERS: Record<SegmenterName, SegmenterEntry> = {
  unet: {
    task: 'segment',
    create: unet,
    description: `U-Net with batch norm, depth ${UNET_DEFAULTS.depth} and width ${UNET_DEFAULTS.width} by default (depth, width and input channels configurable)`,
    defaultImgsz: 128,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1505.04597',
    sized: true,
  },
  fcn_resnet50: {
    task: 'segment',
    create: fcnResnet50,
    description: `FCN on a dilated ResNet-50 (output stride 8), ${TORCHVISION_SEG}`,
    defaultImgsz: 520,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1411.4038',
  },
  deeplabv3_resnet50: {
    task: 'segment',
    create: deeplabv3Resnet50,
    description: `DeepLabV3 (ASPP) on a dilated ResNet-50 (output stride 8), ${TORCHVISION_SEG}`,
    defaultImgsz: 520,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1706.05587',
  },
  deeplabv3_mobilenet_v3_large: {
    task: 'segment',
    create: deeplabv3MobilenetV3Large,
    description: `DeepLabV3 (ASPP) on a dilated MobileNetV3-Large (output stride 16), ${TORCHVISION_SEG}`,
    defaultImgsz: 520,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1706.05587',
  },
  lraspp_mobilenet_v3_large: {
    task: 'segment',
    create: lrasppMobilenetV3Large,
    description: `LR-ASPP on a dilated MobileNetV3-Large, ${TORCHVISION_SEG}`,
    defaultImgsz: 520,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1905.02244',
  },
  deeplabv3: {
    task: 'segment',
    create: deeplabv3,
    description: `DeepLabV3 (ASPP) on the last pyramid level of any zoo CNN (backbone: ${SEGMENT_BACKBONES.join(', ')}; ResNets and MobileNetV3 dilated)`,
    defaultImgsz: 520,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1706.05587',
    defaultBackbone: 'resnet18',
  },
  lraspp: {
    task: 'segment',
    create: lraspp,
    description: 'LR-ASPP on the stride-8 and last pyramid levels of any zoo CNN',
    defaultImgsz: 520,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1905.02244',
    defaultBackbone: 'mobilenet_v3_small',
  },
};

/** Adds the segmentation-only options to `base` (name, classes, channels, size), refusing those the model does not take. */
export function segmenterConfig(base: ModelConfig & { name: SegmenterName }, opts: SegmenterOptions & { patchSize?: number; dropRate?: number }): ModelConfig {
  const entry = SEGMENTERS[base.name];
  const config = { ...base };
  const refused = (['patchSize', 'dropRate', ...(entry.sized ? [] : ['depth', 'width']), ...(entry.defaultBackbone ? [] : ['backbone'])] as const)
    .filter((k) => opts[k as keyof typeof opts] !== undefined);
  if (refused.length > 0) throw new RangeError(`${base.name} takes no ${refused.join(' or ')}`);
  if (entry.defaultBackbone !== undefined) {
    const backbone = opts.backbone ?? entry.defaultBackbone;
    if (!isSegmentBackbone(backbone)) throw new RangeError(`${base.name} cannot sit on '${backbone}'; backbones: ${SEGMENT_BACKBONES.join(', ')}`);
    config.backbone = backbone;
  }
  if (entry.sized) {
    config.depth = checkPositiveInt('depth', opts.depth ?? UNET_DEFAULTS.depth);
    config.width = checkPositiveInt('width', opts.width ?? UNET_DEFAULTS.width);
    if (opts.auxHeads) config.auxHeads = true;
  }
  return config;
}
