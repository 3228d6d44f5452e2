// `kestrel train --help` states the defaults each task's schema really has, per task where they
// differ (issue 13: weight decay said the classify default while detect trains with 5e-4).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { optimizerDefaults } from '../../src/engine/optimizer.js';
import { parseTrainArgs } from '../../src/tasks/classify/config.js';
import { parseDetectArgs } from '../../src/tasks/detect/config.js';
import { parseSegmentArgs } from '../../src/tasks/segment/config.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The help text of one option, its lines joined (commander wraps long descriptions). */
function helpOf(flag: string): string {
  const r = spawnSync(process.execPath, [main, 'train', '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '400' } });
  assert.equal(r.status, 0, r.stderr);
  const text = r.stdout.replace(/\n\s{20,}/g, ' ');
  const line = text.split('\n').find((l) => l.trimStart().startsWith(`${flag} `) || l.trimStart().startsWith(`${flag},`));
  assert.ok(line, `${flag} in the help`);
  return line.replace(/\s+/g, ' ').trim();
}

describe('kestrel train --help', () => {
  const classify = parseTrainArgs({});
  const detect = parseDetectArgs({});
  const segment = parseSegmentArgs({});

  it('weight decay: classify and segment per optimizer, detect its own 5e-4 with any optimizer', () => {
    const text = helpOf('--weight-decay');
    for (const opt of ['adamw', 'sgd', 'adam'] as const) {
      assert.equal(optimizerDefaults({ ...classify, optimizer: opt }).weightDecay, optimizerDefaults({ ...segment, optimizer: opt }).weightDecay);
      assert.equal(optimizerDefaults({ ...detect, optimizer: opt }).weightDecay, 5e-4);
    }
    assert.match(text, new RegExp(`classify and segment ${optimizerDefaults({ ...classify, optimizer: 'adamw' }).weightDecay} AdamW, 5e-4 SGD, 0 Adam; detect 5e-4 with any optimizer`));
    assert.doesNotMatch(text, /\(default: [\d.e-]+\)$/, 'no single commander default beside the per-task ones');
  });

  it('epochs, warm-up, EMA, project and lr: the per-task values the schemas give', () => {
    assert.deepEqual([classify.epochs, detect.epochs, segment.epochs], [5, 5, 50]);
    assert.match(helpOf('--epochs'), /\(default 5; 50 segment\)$/);
    assert.deepEqual([classify.warmupEpochs, detect.warmupEpochs, segment.warmupEpochs], [1, 3, 0.3]);
    assert.match(helpOf('--warmup-epochs'), /\(default 1; 3 detect, 0\.3 segment\)$/);
    assert.deepEqual([classify.ema, detect.ema, segment.ema], [false, true, false]);
    assert.match(helpOf('--ema'), /\(default: on for detect, off otherwise\)$/);
    assert.deepEqual([classify.project, detect.project, segment.project], ['runs/classify', 'runs/detect', 'runs/segment']);
    assert.match(helpOf('--project'), /\(default runs\/<task>\)$/);
    assert.deepEqual([classify.lr, detect.lr, segment.lr, parseDetectArgs({ optimizer: 'sgd' }).lr], [undefined, 2e-3, 2e-3, undefined]);
    assert.match(helpOf('--lr'), /\(default 1e-3 for Adam\(W\), 2e-3 to detect or segment, 0\.01 for SGD\)$/);
  });

  it('--pretrained, --freeze and --backbone apply to detect and segment too', () => {
    assert.doesNotMatch(helpOf('--pretrained'), /^--pretrained <weights> classify:/);
    assert.match(helpOf('--freeze'), /detect: the zoo CNN or YOLOv8's model\.0-9; segment: the CNN, or U-Net's encoder/);
    assert.match(helpOf('--backbone'), /^--backbone <name> detect, yolov8; segment, deeplabv3 and lraspp:/);
  });
});
