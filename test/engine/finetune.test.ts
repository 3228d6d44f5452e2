// Fine-tuning: --pretrained (head re-initialised when the classes differ), --freeze backbone / N
// with batch-norm statistics kept, --backbone-lr as a second parameter group, and the errors.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSafetensors, readSafetensorsHeader } from '../../src/checkpoint/index.js';
import { saveCheckpoint, type ClassifierMeta } from '../../src/engine/checkpoint.js';
import { applyFreeze, layersOf, paramGroups } from '../../src/engine/finetune.js';
import { buildTransforms } from '../../src/data/transforms.js';
import { createModel } from '../../src/models/registry.js';
import { native } from '../../src/native/index.js';
import { train } from '../../src/tasks/classify/train.js';
import { manualSeed } from '../../src/tensor/index.js';
import { FIXTURES } from '../helpers.js';
import { writeShapesFolder } from '../tasks/shapes.js';

let root: string;
let pretrained: string;
const FIVE = ['a', 'b', 'c', 'd', 'e'];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'kestrel-finetune-'));
  await writeShapesFolder(join(root, 'data'), { train: 16, val: 4 });
  // "Pretrained" weights: a smallcnn with 5 other classes and non-trivial batch-norm statistics.
  manualSeed(3);
  const m = createModel('smallcnn', { numClasses: 5, imgSize: 32 });
  for (const [k, t] of m.stateDict()) if (k.endsWith('running_var')) t.fill_(1.7);
  const meta: ClassifierMeta = {
    format: 'kestrel.classify/1', task: 'classify', model: m.config, classes: FIVE, epoch: 3, createdAt: 'x',
    preprocess: { imgsz: 32, channels: 3, mean: [0.4, 0.4, 0.4], std: [0.3, 0.3, 0.3], transforms: buildTransforms('eval', { imgsz: 32, channels: 3, mean: [0.4, 0.4, 0.4], std: [0.3, 0.3, 0.3] }) },
  };
  pretrained = join(root, 'pre.safetensors');
  saveCheckpoint(pretrained, m, meta);
  m.dispose();
});
after(() => rmSync(root, { recursive: true, force: true }));

const base = () => ({ data: join(root, 'data'), imgsz: 32, batch: 8, augment: 'light' as const, workers: 0, epochs: 2, project: join(root, 'runs') });
/** Each model tensor's raw bytes (base64), to compare bit for bit. */
const bytes = (path: string): Map<string, string> => new Map([...loadSafetensors(path, { only: (k) => !/^(optimizer|ema|rng)/.test(k) }).tensors].map(([k, t]) => [k, Buffer.from(native().toBuffer(t.handle)).toString('base64')]));
const PRE_ONLY = (k: string): boolean => !k.startsWith('classifier.');

describe('fine-tuning', () => {
  it('--pretrained --freeze backbone: backbone weights and BN statistics stay bit for bit, the re-initialised head trains, the log says so', async () => {
    const lines: string[] = [];
    const r = await train({ ...base(), pretrained, freeze: 'backbone', name: 'frozen' }, { quiet: true, log: (l) => void lines.push(l) });
    const before = bytes(pretrained);
    const afterward = bytes(r.last);
    const frozen = [...before.keys()].filter(PRE_ONLY);
    assert.ok(frozen.some((k) => k.endsWith('running_mean')) && frozen.length > 10);
    for (const k of frozen) assert.equal(afterward.get(k), before.get(k), `${k} changed`);
    assert.notEqual(afterward.get('classifier.1.weight'), before.get('classifier.1.weight'), 'the hidden layer of the head trains');
    assert.ok(lines.some((l) => /^pretrained: .*pre\.safetensors \(kestrel\): \d+ tensors loaded; head re-initialised: the weights have 5 classes \(a, b, c, …\), the data 3$/.test(l)), lines.join('\n'));
    const m = createModel('smallcnn', { numClasses: 3, imgSize: 32 });
    const classifierParams = [...m.stateDict()].filter(([k]) => k.startsWith('classifier.') && !k.includes('running')).reduce((n, [, t]) => n + t.numel(), 0);
    assert.ok(lines.includes(`froze ${layersOf(m).length - 1} layers (${layersOf(m).slice(0, -1).map(([k]) => k).join(', ').replace(/^(.{80}).+$/, '$1…')}; batch-norm statistics kept): ${classifierParams.toLocaleString('en-US')} of ${m.numParameters().toLocaleString('en-US')} parameters train`), lines.join('\n'));
    m.dispose();
    // The data is normalised as the pretrained weights were.
    const meta = JSON.parse(readSafetensorsHeader(r.last).metadata.kestrel!) as ClassifierMeta;
    assert.deepEqual(meta.preprocess.mean, [0.4, 0.4, 0.4]);
  });

  it('--freeze 2 keeps the first conv and its batch norm; the next conv trains; --backbone-lr makes a second group at that fraction', async () => {
    const r = await train({ ...base(), pretrained, freeze: 2, backboneLr: 0.1, name: 'two' }, { quiet: true, log: () => {} });
    const before = bytes(pretrained);
    const afterward = bytes(r.last);
    for (const k of ['features.0.weight', 'features.1.weight', 'features.1.running_mean', 'features.1.running_var']) assert.equal(afterward.get(k), before.get(k), k);
    assert.notEqual(afterward.get('features.3.weight'), before.get('features.3.weight'));
    const state = JSON.parse(readSafetensorsHeader(r.last).metadata['kestrel.train']!) as { optimizer: { paramGroups: { initialLr: number; params: number[] }[] } };
    const [body, head] = state.optimizer.paramGroups;
    assert.equal(body!.initialLr / head!.initialLr, 0.1);
    assert.equal(head!.initialLr, 1e-3);
  });

  it('layersOf and paramGroups: torchvision\'s stages are the layers; only what trains is optimised', () => {
    const m = createModel('resnet18', { numClasses: 4 });
    assert.deepEqual(layersOf(m).map(([k]) => k), ['conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'layer4', 'fc']);
    const plan = applyFreeze(m, '3', { head: m.getClassifier() });
    assert.match(plan.summary, /^froze 3 layers \(conv1, bn1, layer1; batch-norm statistics kept\): [\d,]+ of 11,178,564 parameters train$/);
    const groups = paramGroups(m, { head: m.getClassifier() }, 0.01, 0.5) as { params: unknown[]; lr?: number }[];
    assert.equal(groups.length, 2);
    assert.equal(groups[0]!.lr, 0.005);
    assert.equal(groups[1]!.params.length, 2);
    assert.equal(groups[0]!.params.length + 2, m.parameters().filter((p) => p.requiresGrad).length);
    assert.throws(() => applyFreeze(m, '7', { head: null }), /--freeze 7 would freeze every layer: the model has 7 \(conv1, bn1, layer1, layer2, layer3, layer4, fc\)/);
    const eff = createModel('efficientnet_b0', { numClasses: 4 });
    assert.deepEqual(layersOf(eff).map(([k]) => k), ['features.0', 'features.1', 'features.2', 'features.3', 'features.4', 'features.5', 'features.6', 'features.7', 'features.8', 'classifier']);
    eff.dispose();
    m.dispose();
  });

  it('weights that do not fit: one line naming the keys, and no run folder', async () => {
    await assert.rejects(train({ ...base(), pretrained: join(FIXTURES, 'pth', 'resnet_zip.pth'), model: 'smallcnn', name: 'misfit' }, { quiet: true, log: () => {} }), /resnet_zip\.pth: does not fit smallcnn: missing keys: features\.0\.weight, .*; unexpected keys: conv1\.weight, /);
    assert.equal(existsSync(join(root, 'runs', 'misfit')), false);
    await assert.rejects(train({ ...base(), pretrained: 'torchvision:resnet18.NOPE', name: 'nohub' }, { quiet: true, log: () => {} }), /unknown hub name 'torchvision:resnet18\.NOPE'/);
    await assert.rejects(train({ ...base(), pretrained, freeze: 'head', name: 'bad' }, { quiet: true, log: () => {} }), /freeze: 'backbone' or a number of layers/);
  });
});
