/**
 * The zoo CNNs as backbones of dense heads (segmentation, detection): built whole, head included,
 * as torchvision builds them (so a seeded build draws the same weights), then read through their
 * feature pyramid (pyramid.ts).
 */
import type { Module } from '../nn/module.js';
import { efficientnetB0 } from './efficientnet.js';
import { mobilenetV2, MobileNetV3 } from './mobilenet.js';
import type { ModelConfig } from './model.js';
import { isPyramidBackbone, type PyramidBackbone } from './pyramid.js';
import { resnet18, resnet34, resnet50 } from './resnet.js';
import { smallcnn } from './smallcnn.js';

type Backbone = PyramidBackbone & Module<never, unknown>;

/** The zoo CNNs a segmentation head can sit on. */
export const SEGMENT_BACKBONES = ['resnet18', 'resnet34', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v3_large', 'efficientnet_b0', 'smallcnn'] as const;
export type SegmentBackbone = (typeof SEGMENT_BACKBONES)[number];

/** The zoo CNNs a detection neck can sit on: those whose pyramid reaches stride 32 (smallcnn stops at 4). */
export const DETECT_BACKBONES = ['resnet18', 'resnet34', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v3_large', 'efficientnet_b0'] as const;
export type DetectBackbone = (typeof DETECT_BACKBONES)[number];

export function isSegmentBackbone(name: string): name is SegmentBackbone {
  return (SEGMENT_BACKBONES as readonly string[]).includes(name);
}

export function isDetectBackbone(name: string): name is DetectBackbone {
  return (DETECT_BACKBONES as readonly string[]).includes(name);
}

/**
 * A zoo classifier as a backbone, dilated where torchvision dilates it for segmentation (`dilated`):
 * ResNets at output stride 8, MobileNetV3 at 16; the others keep their strides.
 */
export function buildBackbone(name: SegmentBackbone, inChannels: number, dilated: boolean): Backbone {
  const config: ModelConfig = { name, numClasses: 1000, inChannels };
  const resnet = { replaceStrideWithDilation: [false, dilated, dilated] as [boolean, boolean, boolean] };
  let model: Module<never, unknown>;
  switch (name) {
    case 'resnet18': model = resnet18(config, resnet); break;
    case 'resnet34': model = resnet34(config, resnet); break;
    case 'resnet50': model = resnet50(config, resnet); break;
    case 'mobilenet_v3_small': model = new MobileNetV3(config, { arch: 'small', dilated }); break;
    case 'mobilenet_v3_large': model = new MobileNetV3(config, { arch: 'large', dilated }); break;
    case 'mobilenet_v2': model = mobilenetV2(config); break;
    case 'efficientnet_b0': model = efficientnetB0(config); break;
    case 'smallcnn': model = smallcnn(config); break;
  }
  if (!isPyramidBackbone(model)) throw new Error(`${name} has no feature pyramid`);
  return model;
}
