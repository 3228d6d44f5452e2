// Fine-tuning a segmenter (issue 15 for segmentation): a head over a zoo CNN started from a Kestrel
// classification checkpoint of that CNN (backbone tensors as the file's, the head fresh, the data
// normalised as the classifier's), torchvision-named weights of a whole segmentation model loading
// everything but a head of other classes, --freeze backbone keeping the CNN and its statistics,
// and the errors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSafetensors, saveSafetensors } from '../../src/checkpoint/index.js';
import { synthSegment } from '../../src/data/synth-segment.js';
import { buildTransforms } from '../../src/data/transforms.js';
import { saveCheckpoint, type ClassifierMeta } from '../../src/engine/checkpoint.js';
import { runTraining } from '../../src/engine/trainer.js';
import { createModel, createSegmenter } from '../../src/models/registry.js';
import { native } from '../../src/native/index.js';
import { segmentTask } from '../../src/tasks/segment/task.js';
import { manualSeed, type Tensor } from '../../src/tensor/index.js';

const MEAN = [0.4, 0.45, 0.5];
const STD = [0.25, 0.25, 0.25];
let dir: string;
let yaml: string;
let classifier: string;
let torchvisionNamed: string;

const b64 = (t: Tensor): string => Buffer.from(native().toBuffer(t.handle)).toString('base64');
const bytesOf = (m: Map<string, Tensor>): Map<string, string> => new Map([...m].map(([k, t]) => [k, b64(t)]));
const fileBytes = (path: string): Map<string, string> => bytesOf(loadSafetensors(path, { only: (k) => !/^(optimizer|ema|rng)/.test(k) }).tensors);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-segment-pretrained-'));
  yaml = await synthSegment({ out: join(dir, 'digits'), kind: 'digits', train: 4, val: 2, imgsz: 64, seed: 5 });
  manualSeed(11);
  const cls = createModel('mobilenet_v3_small', { numClasses: 5, imgSize: 64 });
  for (const [k, t] of cls.stateDict()) if (k.endsWith('running_var')) t.fill_(1.7);
  const preprocess = { imgsz: 64, channels: 3 as const, mean: MEAN, std: STD, transforms: buildTransforms('eval', { imgsz: 64, channels: 3, mean: MEAN, std: STD }) };
  const meta: ClassifierMeta = { format: 'kestrel.classify/1', task: 'classify', model: cls.config, classes: ['a', 'b', 'c', 'd', 'e'], epoch: 3, createdAt: 'x', preprocess };
  classifier = join(dir, 'classifier.safetensors');
  saveCheckpoint(classifier, cls, meta);
  cls.dispose();
  // A whole torchvision-layout model's state dict (21 VOC classes), as a plain safetensors file.
  const tv = createSegmenter('lraspp_mobilenet_v3_large', { numClasses: 21 });
  for (const [k, t] of tv.stateDict()) if (k.endsWith('running_var')) t.fill_(1.3);
  torchvisionNamed = join(dir, 'lraspp.safetensors');
  saveSafetensors(torchvisionNamed, tv.stateDict());
  tv.dispose();
});
after(() => rmSync(dir, { recursive: true, force: true }));

const base = () => ({ data: yaml, model: 'lraspp', imgsz: 64, batch: 2, epochs: 1, workers: 0, project: join(dir, 'runs') });

describe('segmentation from pretrained weights', () => {
  it('a classification checkpoint starts lraspp\'s backbone (its CNN taken from the weights); the head stays fresh; the data is normalised as the classifier\'s', async () => {
    const run = await segmentTask.setup(segmentTask.parseArgs({ ...base(), pretrained: classifier }));
    try {
      manualSeed(0);
      const model = run.createModel();
      assert.equal(model.config.backbone, 'mobilenet_v3_small');
      manualSeed(0);
      const fresh = bytesOf(run.createModel().stateDict());
      const lines = await run.loadPretrained!(model, classifier);
      const file = fileBytes(classifier);
      const own = bytesOf(model.stateDict());
      const features = [...file.keys()].filter((k) => k.startsWith('features.'));
      for (const k of features) assert.equal(own.get(`backbone.${k.slice('features.'.length)}`), file.get(k), k);
      const head = [...own.keys()].filter((k) => k.startsWith('classifier.'));
      assert.ok(head.length > 5);
      for (const k of head) assert.equal(own.get(k), fresh.get(k), `${k} keeps its fresh initialisation`);
      assert.match(lines[0]!, new RegExp(`^pretrained: .*classifier\\.safetensors \\(kestrel\\): ${features.length} backbone tensors loaded from mobilenet_v3_small's classifier weights \\(4 of its tensors left out: `));
      assert.deepEqual([run.meta(model, 0).preprocess.mean, run.meta(model, 0).preprocess.std], [MEAN, STD]);
      model.dispose();
    } finally {
      await run.close();
    }
  });

  it('torchvision-named weights of the whole model load fully but for a head of other classes, which is re-initialised (said in the log)', async () => {
    const run = await segmentTask.setup(segmentTask.parseArgs({ ...base(), model: 'lraspp_mobilenet_v3_large', pretrained: torchvisionNamed }));
    try {
      const model = run.createModel();
      const lines = await run.loadPretrained!(model, torchvisionNamed);
      const file = fileBytes(torchvisionNamed);
      const own = bytesOf(model.stateDict());
      const body = [...own.keys()].filter((k) => !k.startsWith('classifier.'));
      for (const k of body) assert.equal(own.get(k), file.get(k), k);
      // The head's layers not tied to the classes are re-initialised with the rest of the head.
      assert.notEqual(own.get('classifier.cbr.0.weight'), file.get('classifier.cbr.0.weight'));
      assert.deepEqual(lines, [`pretrained: ${torchvisionNamed} (safetensors): ${body.length} tensors loaded; head re-initialised: the weights have a head of other shapes, the data ${run.classes.length}`]);
      model.dispose();
    } finally {
      await run.close();
    }
  });

  it('--freeze backbone keeps the CNN and its batch-norm statistics bit for bit; the log counts what trains', async () => {
    const lines: string[] = [];
    const r = await runTraining(segmentTask, { ...base(), pretrained: classifier, freeze: 'backbone', name: 'frozen' }, { quiet: true, log: (l) => void lines.push(l) });
    const file = fileBytes(classifier);
    const trained = fileBytes(r.last);
    const features = [...file.keys()].filter((k) => k.startsWith('features.'));
    for (const k of features) assert.equal(trained.get(`backbone.${k.slice('features.'.length)}`), file.get(k), k);
    const probe = createSegmenter('lraspp', { numClasses: 11, imgSize: 64, backbone: 'mobilenet_v3_small' });
    const headParams = [...probe.namedParameters()].filter(([k]) => k.startsWith('classifier.')).reduce((n, [, t]) => n + t.numel(), 0);
    assert.ok(lines.includes(`froze 1 layer (backbone; batch-norm statistics kept): ${headParams.toLocaleString('en-US')} of ${probe.numParameters().toLocaleString('en-US')} parameters train`), lines.join('\n'));
    probe.dispose();
    // Fine-tuning that checkpoint again needs no --backbone: it is the CNN the checkpoint sits on (lraspp's default is mobilenet_v3_large).
    const again = await segmentTask.setup(segmentTask.parseArgs({ ...base(), pretrained: r.last }));
    try {
      const model = again.createModel();
      assert.equal(model.config.backbone, 'mobilenet_v3_small');
      model.dispose();
    } finally {
      await again.close();
    }
  });

  it('a classifier of another CNN is refused in one line', async () => {
    await assert.rejects(runTraining(segmentTask, { ...base(), backbone: 'resnet18', pretrained: classifier, name: 'bad' }, { quiet: true, log: () => {} }),
      { message: `${classifier}: is a classify checkpoint of mobilenet_v3_small, and the backbone of this lraspp is resnet18 (--backbone mobilenet_v3_small builds one that fits)` });
  });
});
