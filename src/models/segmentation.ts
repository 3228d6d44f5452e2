/**
 * Segmentation models made of a zoo backbone and a head (torchvision's _SimpleSegmentationModel):
 * `backbone.…` holds the classifier's feature layers under torchvision's names, `classifier.…`
 * the head, and the head's logits are upsampled bilinearly to the input's size. fcn_resnet50,
 * deeplabv3_resnet50, deeplabv3_mobilenet_v3_large and lraspp_mobilenet_v3_large are torchvision's
 * (same keys, same seeded init, aux_loss=False); `deeplabv3` and `lraspp` put the same heads on
 * any zoo CNN through its feature pyramid.
 */
import * as F from '../nn/functional.js';
import { Module } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { buildBackbone, isSegmentBackbone, SEGMENT_BACKBONES, type SegmentBackbone } from './backbones.js';
import { graphGflops } from './flops.js';
import type { MobileNetV3 } from './mobilenet.js';
import type { ModelConfig, SegmentationModel } from './model.js';
import { IntermediateLayers } from './pyramid.js';
import { DeepLabHead, FCNHead, LRASPPHead } from './seg-heads.js';

export { buildBackbone, isSegmentBackbone, SEGMENT_BACKBONES, type SegmentBackbone };

type Head = Module<Tensor[], Tensor>;

/** A backbone, a head over some of its maps (`levels`), and a bilinear upsampling to the input's size. */
export class SegmentationNet extends Module implements SegmentationModel {
  readonly #config: ModelConfig;
  readonly backbone: IntermediateLayers;
  readonly classifier: Head;
  readonly #levels: readonly number[];

  constructor(config: ModelConfig, backbone: IntermediateLayers, classifier: Module<never, Tensor>, levels: readonly number[]) {
    super();
    this.#config = { ...config };
    this.backbone = this.registerModule('backbone', backbone);
    this.classifier = this.registerModule('classifier', classifier as unknown as Head);
    this.#levels = levels;
  }

  get config(): ModelConfig {
    return { ...this.#config };
  }

  headModule(): Module<never[], unknown> {
    return this.classifier as unknown as Module<never[], unknown>;
  }

  backboneModules(): [string, Module<never[], unknown>][] {
    return [['backbone', this.backbone]];
  }

  forward(x: Tensor): Tensor {
    const [h, w] = x.shape.slice(2) as [number, number];
    return tidy(() => {
      const maps = this.backbone.forward(x);
      const logits = this.classifier.forward(...this.#levels.map((i) => maps[i]!));
      return F.interpolate(logits, { size: [h, w], mode: 'bilinear', alignCorners: false });
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const maps = this.backbone.onnxMaps(g, x);
    const logits = this.classifier.toOnnx(g, ...this.#levels.map((i) => maps[i]!));
    return E.interpolate(g, logits, x.shape.slice(2) as [number, number], { mode: 'bilinear' });
  }

  gflops(imgsz: number | [number, number] = this.#config.imgSize ?? 520): number {
    return graphGflops(this, this.#config.inChannels, imgsz);
  }
}

const backboneOf = (config: ModelConfig, fallback: SegmentBackbone): SegmentBackbone => {
  const name = config.backbone ?? fallback;
  if (!isSegmentBackbone(name)) throw new RangeError(`${config.name} cannot sit on '${name}'; backbones: ${SEGMENT_BACKBONES.join(', ')}`);
  return name;
};

/** torchvision's fcn_resnet50: dilated ResNet-50 (output stride 8), FCNHead(2048). */
export function fcnResnet50(config: ModelConfig): SegmentationNet {
  const backbone = new IntermediateLayers(buildBackbone('resnet50', config.inChannels, true));
  return new SegmentationNet(config, backbone, new FCNHead(2048, config.numClasses), [3]);
}

/** torchvision's deeplabv3_resnet50: dilated ResNet-50 (output stride 8), DeepLabHead(2048). */
export function deeplabv3Resnet50(config: ModelConfig): SegmentationNet {
  const backbone = new IntermediateLayers(buildBackbone('resnet50', config.inChannels, true));
  return new SegmentationNet(config, backbone, new DeepLabHead(2048, config.numClasses), [3]);
}

/** torchvision's deeplabv3_mobilenet_v3_large: dilated MobileNetV3-Large (output stride 16), DeepLabHead(960). */
export function deeplabv3MobilenetV3Large(config: ModelConfig): SegmentationNet {
  const backbone = new IntermediateLayers(buildBackbone('mobilenet_v3_large', config.inChannels, true));
  return new SegmentationNet(config, backbone, new DeepLabHead(960, config.numClasses), [3]);
}

/**
 * torchvision's lraspp_mobilenet_v3_large: the low map is the output of the first block at stride 8
 * (features.4, 40 channels; torchvision taps a stage's strided block, not its last), the high map
 * the last layer (features.16, 960 channels, stride 16).
 */
export function lrasppMobilenetV3Large(config: ModelConfig): SegmentationNet {
  const net = buildBackbone('mobilenet_v3_large', config.inChannels, true) as MobileNetV3;
  const stages = [0, ...net.stridedBlocks, net.features.layers.length - 1];
  const taps = [stages[stages.length - 4]!, stages[stages.length - 1]!];
  const channels = taps.map((i) => net.featureChannels[i]!);
  const backbone = new IntermediateLayers(net, {
    levels: [{ stride: 8, channels: channels[0]! }, { stride: 16, channels: channels[1]! }],
    forward: (x) => net.forwardTaps(x, taps),
    onnx: (g, x) => net.onnxTaps(g, x, taps),
  });
  return new SegmentationNet(config, backbone, new LRASPPHead(channels[0]!, channels[1]!, config.numClasses), [0, 1]);
}

/** DeepLabV3 (ASPP head) on the last pyramid level of any zoo CNN, dilated where torchvision dilates. */
export function deeplabv3(config: ModelConfig): SegmentationNet {
  const backbone = new IntermediateLayers(buildBackbone(backboneOf(config, 'resnet18'), config.inChannels, true));
  const last = backbone.levels.length - 1;
  return new SegmentationNet(config, backbone, new DeepLabHead(backbone.levels[last]!.channels, config.numClasses), [last]);
}

/** LR-ASPP on any zoo CNN: the stride-8 pyramid level (the finest for smallcnn) as the low map, the last as the high one. */
export function lraspp(config: ModelConfig): SegmentationNet {
  const name = backboneOf(config, 'mobilenet_v3_small');
  const backbone = new IntermediateLayers(buildBackbone(name, config.inChannels, name.startsWith('mobilenet_v3')));
  const levels = backbone.levels;
  const low = Math.max(0, levels.findIndex((l) => l.stride === 8));
  const high = levels.length - 1;
  return new SegmentationNet(config, backbone, new LRASPPHead(levels[low]!.channels, levels[high]!.channels, config.numClasses), [low, high]);
}
