/**
 * timm's parameter names → the zoo's (torchvision's). timm's ResNets and ViTs already use the
 * zoo's names; its MobileNetV2 and EfficientNet (timm/models/_efficientnet_builder.py) name the
 * stem `conv_stem`/`bn1`, the stages `blocks.<stage>.<block>` with `conv_pw`/`conv_dw`/`conv_pwl`
 * and `se.conv_reduce`/`se.conv_expand`, and the head `conv_head`/`bn2`/`classifier`, where
 * torchvision has numbered `features`.
 */

type Rename = (name: string) => string;

/** MobileNetV2: `blocks` stages of 1, 2, 3, 4, 3, 3, 1 blocks are torchvision's features.1 … 17. */
const STAGE_START = [1, 2, 4, 7, 11, 14, 17];

function mobilenetV2(k: string): string {
  const block = /^blocks\.(\d+)\.(\d+)\.(\w+)\.(.+)$/.exec(k);
  if (block) {
    const [, stage, index, part, rest] = block;
    const f = `features.${STAGE_START[Number(stage)]! + Number(index)}.conv`;
    // The first block has no expansion: dw, bn, pw-linear, bn; the others pw, bn, dw, bn, pwl, bn.
    const first: Record<string, string> = { conv_dw: '0.0', bn1: '0.1', conv_pw: '1', bn2: '2' };
    const other: Record<string, string> = { conv_pw: '0.0', bn1: '0.1', conv_dw: '1.0', bn2: '1.1', conv_pwl: '2', bn3: '3' };
    const to = (stage === '0' ? first : other)[part!];
    return to === undefined ? k : `${f}.${to}.${rest}`;
  }
  return stem(k, 18, 'classifier.1');
}

function efficientnet(k: string): string {
  const block = /^blocks\.(\d+)\.(\d+)\.([\w.]+?)\.(weight|bias|running_mean|running_var|num_batches_tracked)$/.exec(k);
  if (block) {
    const [, stage, index, part, leaf] = block;
    const f = `features.${Number(stage) + 1}.${index}.block`;
    const first: Record<string, string> = { conv_dw: '0.0', bn1: '0.1', 'se.conv_reduce': '1.fc1', 'se.conv_expand': '1.fc2', conv_pw: '2.0', bn2: '2.1' };
    const other: Record<string, string> = { conv_pw: '0.0', bn1: '0.1', conv_dw: '1.0', bn2: '1.1', 'se.conv_reduce': '2.fc1', 'se.conv_expand': '2.fc2', conv_pwl: '3.0', bn3: '3.1' };
    const to = (stage === '0' ? first : other)[part!];
    return to === undefined ? k : `${f}.${to}.${leaf}`;
  }
  return stem(k, 8, 'classifier.1');
}

/** The stem, the last 1×1 convolution (features.<last>) and the classifier. */
function stem(k: string, last: number, classifier: string): string {
  const m = /^(conv_stem|bn1|conv_head|bn2|classifier)\.(.+)$/.exec(k);
  if (!m) return k;
  const to: Record<string, string> = { conv_stem: 'features.0.0', bn1: 'features.0.1', conv_head: `features.${last}.0`, bn2: `features.${last}.1`, classifier };
  return `${to[m[1]!]}.${m[2]}`;
}

const RENAMES: Record<string, Rename> = { mobilenet_v2: mobilenetV2, efficientnet_b0: efficientnet };

/** Whether these names are timm's MobileNet/EfficientNet layout (its stem is `conv_stem`). */
export const hasTimmNames = (names: Iterable<string>): boolean => [...names].some((k) => k.startsWith('conv_stem.'));

/**
 * The zoo's name for each of timm's names for `model`, or null when the zoo model has no timm
 * layout that differs from its own.
 *
 * @example
 * timmRename('efficientnet_b0')?.('blocks.1.0.conv_dw.weight');   // 'features.2.0.block.1.0.weight'
 */
export const timmRename = (model: string): Rename | null => RENAMES[model] ?? null;
