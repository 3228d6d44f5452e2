import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasTimmNames, timmRename } from '../../src/engine/timm-names.js';
import { createModel } from '../../src/models/registry.js';

const BN = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'];
const conv = (m: string): string[] => [`${m}.weight`];
const bn = (m: string): string[] => BN.map((p) => `${m}.${p}`);
const se = (b: string): string[] => ['conv_reduce', 'conv_expand'].flatMap((c) => [`${b}.se.${c}.weight`, `${b}.se.${c}.bias`]);

/**
 * timm's state-dict names in registration order, written from timm's EfficientNet builder: a
 * DepthwiseSeparableConv (conv_dw, bn1, se, conv_pw, bn2) opens stage 0, InvertedResiduals
 * (conv_pw, bn1, conv_dw, bn2, se, conv_pwl, bn3) follow; stem conv_stem/bn1, head conv_head/bn2.
 */
function timmNames(stages: number[], withSe: boolean): string[] {
  const out = [...conv('conv_stem'), ...bn('bn1')];
  stages.forEach((n, s) => {
    for (let j = 0; j < n; j++) {
      const b = `blocks.${s}.${j}`;
      const seNames = withSe ? se(b) : [];
      if (s === 0) out.push(...conv(`${b}.conv_dw`), ...bn(`${b}.bn1`), ...seNames, ...conv(`${b}.conv_pw`), ...bn(`${b}.bn2`));
      else out.push(...conv(`${b}.conv_pw`), ...bn(`${b}.bn1`), ...conv(`${b}.conv_dw`), ...bn(`${b}.bn2`), ...seNames, ...conv(`${b}.conv_pwl`), ...bn(`${b}.bn3`));
    }
  });
  return [...out, ...conv('conv_head'), ...bn('bn2'), 'classifier.weight', 'classifier.bias'];
}

describe("timm's names → the zoo's", () => {
  for (const [model, timm] of [['mobilenet_v2', timmNames([1, 2, 3, 4, 3, 3, 1], false)], ['efficientnet_b0', timmNames([1, 2, 2, 3, 3, 4, 1], true)]] as const) {
    test(`${model}: each of timm's ${timm.length} names maps onto the zoo's name at the same place`, () => {
      const m = createModel(model);
      const zoo = [...m.stateDict().keys()];
      m.dispose();
      assert.equal(timm.length, zoo.length);
      assert.ok(hasTimmNames(timm));
      const rename = timmRename(model)!;
      assert.deepEqual(timm.map(rename), zoo);
    });
  }

  test('ResNets and the ViT keep their names (timm uses the zoo\'s)', () => {
    assert.equal(timmRename('resnet50'), null);
    assert.equal(timmRename('vit_tiny'), null);
    assert.equal(hasTimmNames(['conv1.weight', 'fc.weight']), false);
  });
});
