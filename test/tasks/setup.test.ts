import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chooseDefaults, describeChoices, prepare, SMALL_SIDE } from '../../src/tasks/classify/setup.js';
import { parseTrainArgs } from '../../src/tasks/classify/config.js';
import { tempDir, writeImage } from '../data/make-images.js';

const tmp = tempDir('setup');
after(tmp.remove);

const auto = { augment: 'auto' as const };
const grey = (h: number, w = h): { nativeSize: [number, number]; inChannels: 1 } => ({ nativeSize: [h, w], inChannels: 1 });

describe('chooseDefaults', () => {
  it('small images: their own size, smallcnn, light augmentation', () => {
    assert.deepEqual(chooseDefaults(auto, grey(20)), { model: 'smallcnn', imgsz: 20, channels: 1, augment: 'light', basis: 'small images (20×20)' });
    assert.deepEqual(chooseDefaults(auto, grey(28)), { model: 'smallcnn', imgsz: 28, channels: 1, augment: 'light', basis: 'small images (28×28)' });
    const cifar = chooseDefaults(auto, { nativeSize: [SMALL_SIDE, SMALL_SIDE], inChannels: 3 });
    assert.deepEqual([cifar.model, cifar.imgsz, cifar.channels, cifar.augment], ['smallcnn', 32, 3, 'light']);
  });

  it('a non-square small set trains at its larger side', () => {
    assert.deepEqual(chooseDefaults(auto, grey(16, 24)), { model: 'smallcnn', imgsz: 24, channels: 1, augment: 'light', basis: 'small images (24×16)' });
  });

  it('larger or varied images: resnet18 at 224 px, standard augmentation', () => {
    assert.deepEqual(chooseDefaults(auto, { nativeSize: null, inChannels: 3 }), { model: 'resnet18', imgsz: 224, channels: 3, augment: 'standard', basis: 'images of varied sizes' });
    assert.deepEqual(chooseDefaults(auto, { nativeSize: [480, 640], inChannels: 3 }), { model: 'resnet18', imgsz: 224, channels: 3, augment: 'standard', basis: '640×480 images' });
    assert.equal(chooseDefaults(auto, grey(SMALL_SIDE + 1)).model, 'resnet18');
  });

  it("the user's model, size and augmentation win; a named model on small images keeps their size", () => {
    assert.deepEqual(chooseDefaults({ model: 'resnet18', augment: 'auto' }, grey(20)), { model: 'resnet18', imgsz: 20, channels: 1, augment: 'light', basis: 'small images (20×20)' });
    assert.deepEqual(chooseDefaults({ imgsz: 28, augment: 'standard' }, grey(20)), { model: 'smallcnn', imgsz: 28, channels: 1, augment: 'standard', basis: 'small images (20×20)' });
    assert.equal(chooseDefaults({ model: 'mobilenet_v2', augment: 'none' }, { nativeSize: null, inChannels: 3 }).imgsz, 224);
    assert.equal(chooseDefaults({ model: 'smallcnn', augment: 'auto' }, { nativeSize: null, inChannels: 3 }).imgsz, 28, "smallcnn's own size");
  });

  it('an unknown model is a one-line error naming the known ones', () => {
    assert.throws(() => chooseDefaults({ model: 'resnet9', augment: 'auto' }, grey(20)), /^Error: unknown model 'resnet9' \(known: smallcnn, resnet18/);
  });

  it('describeChoices: one line for the trainer', () => {
    assert.equal(describeChoices(chooseDefaults(auto, grey(20))), 'small images (20×20): smallcnn · imgsz 20 · 1 channel · augment light');
    assert.equal(describeChoices(chooseDefaults(auto, { nativeSize: null, inChannels: 3 })), 'images of varied sizes: resnet18 · imgsz 224 · 3 channels · augment standard');
  });
});

describe('prepare on a folder of 20×20 grey digits', () => {
  it('picks smallcnn at 20 px with light augmentation, and the loaders give 20×20 batches', async () => {
    const root = join(tmp.dir, 'digits');
    await Promise.all(['0', '1'].flatMap((cls) => [0, 1, 2, 3].map((k) => writeImage(join(root, k < 3 ? 'train' : 'val', cls, `${k}.png`), 20, 20, k, 'png', 1))));
    const setup = await prepare(parseTrainArgs({ data: root, batch: 2, workers: 0 }));
    try {
      assert.deepEqual(setup.choices, { model: 'smallcnn', imgsz: 20, channels: 1, augment: 'light', basis: 'small images (20×20)' });
      assert.equal(setup.modelName, 'smallcnn');
      assert.deepEqual([setup.preprocess.imgsz, setup.preprocess.channels], [20, 1]);
      assert.deepEqual(setup.preprocess.transforms.map((t) => t.op), ['normalize'], 'eval: already the size, nothing to resize');
      for await (const b of setup.trainLoader.epoch(1)) {
        assert.deepEqual(b.images.shape, [2, 1, 20, 20]);
        b.dispose();
      }
    } finally {
      await setup.trainLoader.close();
      await setup.valLoader.close();
    }
  });
});
