/**
 * Hub names → the publishers' files. torchvision's URLs and preprocessing come from torchvision
 * 0.14's weight enums (`ResNet50_Weights.IMAGENET1K_V2.url`, `.transforms()`); their file names
 * end in the first 8 hex digits of the file's sha256, which is what torch.hub checks too. timm's
 * files live on the Hugging Face hub, which states each file's sha256 in the X-Linked-Etag header
 * of the download; their preprocessing is timm's pretrained_cfg (crop_pct, mean, std).
 */
import { createRequire } from 'node:module';
// A type-only import puts the JSON in the program, so tsc copies it beside the compiled file.
import type ImagenetClasses from './imagenet-classes.json';

export interface HubEntry {
  /** `torchvision:resnet50.IMAGENET1K_V2` */
  name: string;
  /** The Kestrel zoo model the weights fit. */
  model: string;
  url: string;
  /** Where the checksum comes from: a sha256 prefix in the file name, or the hub's header. */
  sha256: { prefix: string } | { header: 'x-linked-etag' };
  /** Evaluation preprocessing the weights were measured with. */
  eval: { resize: number; crop: number; mean: number[]; std: number[]; interpolation: 'bilinear' | 'bicubic' };
  /** The weights classify ImageNet-1k (1,000 classes, torchvision's names). */
  imagenet: boolean;
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const INCEPTION = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

const tv = (model: string, tag: string, file: string, resize = 256, interpolation: 'bilinear' | 'bicubic' = 'bilinear'): HubEntry => ({
  name: `torchvision:${model}.${tag}`, model, url: `https://download.pytorch.org/models/${file}`,
  sha256: { prefix: /-([0-9a-f]{8,})\.pth$/.exec(file)![1]! }, eval: { resize, crop: 224, ...IMAGENET, interpolation }, imagenet: true,
});

/** timm's resize is floor(224 / crop_pct), bicubic. */
const timm = (repo: string, model: string, cropPct: number, norm = IMAGENET): HubEntry => ({
  name: `timm:${repo}`, model, url: `https://huggingface.co/timm/${repo}/resolve/main/model.safetensors`,
  sha256: { header: 'x-linked-etag' }, eval: { resize: Math.floor(224 / cropPct), crop: 224, ...norm, interpolation: 'bicubic' }, imagenet: true,
});

export const HUB: readonly HubEntry[] = [
  tv('resnet18', 'IMAGENET1K_V1', 'resnet18-f37072fd.pth'),
  tv('resnet34', 'IMAGENET1K_V1', 'resnet34-b627a593.pth'),
  tv('resnet50', 'IMAGENET1K_V1', 'resnet50-0676ba61.pth'),
  tv('resnet50', 'IMAGENET1K_V2', 'resnet50-11ad3fa6.pth', 232),
  tv('mobilenet_v2', 'IMAGENET1K_V1', 'mobilenet_v2-b0353104.pth'),
  tv('mobilenet_v2', 'IMAGENET1K_V2', 'mobilenet_v2-7ebf99e0.pth', 232),
  tv('mobilenet_v3_small', 'IMAGENET1K_V1', 'mobilenet_v3_small-047dcff4.pth'),
  tv('efficientnet_b0', 'IMAGENET1K_V1', 'efficientnet_b0_rwightman-3dd342df.pth', 256, 'bicubic'),
  timm('resnet18.a1_in1k', 'resnet18', 0.95),
  timm('resnet34.a1_in1k', 'resnet34', 0.95),
  timm('resnet50.a1_in1k', 'resnet50', 0.95),
  timm('mobilenetv2_100.ra_in1k', 'mobilenet_v2', 0.875),
  timm('efficientnet_b0.ra_in1k', 'efficientnet_b0', 0.875),
  timm('vit_tiny_patch16_224.augreg_in21k_ft_in1k', 'vit_tiny', 0.9, INCEPTION),
];

/** Whether `spec` is meant as a hub name (publisher:tag) rather than a file path. */
export const isHubName = (spec: string): boolean => /^(torchvision|timm):/.test(spec);

/**
 * The entry of a hub name; an unknown one is a one-line error listing the publisher's names.
 *
 * @example
 * hubEntry('torchvision:resnet50.IMAGENET1K_V2').url;   // https://download.pytorch.org/models/resnet50-11ad3fa6.pth
 */
export function hubEntry(name: string): HubEntry {
  const e = HUB.find((x) => x.name === name);
  if (e) return e;
  const publisher = name.split(':')[0];
  const known = HUB.filter((x) => x.name.startsWith(`${publisher}:`)).map((x) => x.name);
  throw new Error(`unknown hub name '${name}'; known: ${(known.length > 0 ? known : HUB.map((x) => x.name)).join(', ')}`);
}

let classes: typeof ImagenetClasses | undefined;

/** ImageNet-1k's 1,000 class names, as torchvision's weights list them (`meta['categories']`). */
export function imagenetClasses(): string[] {
  classes ??= createRequire(import.meta.url)('./imagenet-classes.json') as typeof ImagenetClasses;
  return [...classes];
}
