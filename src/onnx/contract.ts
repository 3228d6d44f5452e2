/**
 * The deployment contract an exported `.onnx` file carries in its `metadata_props`: everything a
 * runtime needs to turn an image into the network's input and the output into labels, so the file
 * alone is enough to predict. Keys are flat strings (values JSON where structured), readable by any
 * ONNX tool; the names follow Ultralytics' where one exists (`task`, `names`, `imgsz`).
 *
 * | key            | value                                                         |
 * |----------------|---------------------------------------------------------------|
 * | kestrel        | contract version, `kestrel.onnx/1`                            |
 * | task           | `classify`, `detect` or `segment` (the output's meaning)      |
 * | names          | JSON array of class names, index = output column              |
 * | imgsz          | JSON `[h, w]` of the network input                            |
 * | channels       | `1` or `3`                                                    |
 * | channel_order  | `RGB` or `GRAY`                                               |
 * | input          | `NCHW float32, pixels/255 then (x - mean) / std`              |
 * | mean, std      | JSON arrays on the 0–1 scale, one per channel                 |
 * | transforms     | JSON eval pipeline (Kestrel TransformSpec[]: resize, crop…)   |
 * | output         | `logits` (softmax not applied), `probs`, or `detections`      |
 * |                | (a detector's [N, 4 + classes, anchors]: cx, cy, w, h in input |
 * |                | pixels, then class probabilities; NMS not applied)            |
 * | model          | JSON model config (`{"name":"resnet18",…}`)                   |
 * | precision      | `fp32`, `fp16` or `int8`                                      |
 */
import { z } from 'zod';
import { TASKS, type TaskName } from '../task.js';
import { parseTransforms } from '../data/transform-schema.js';
import type { TransformSpec } from '../data/transforms.js';

export const CONTRACT = 'kestrel.onnx/1';

export interface DeployContract {
  task: TaskName;
  names: string[];
  imgsz: [number, number];
  channels: 1 | 3;
  mean: number[];
  std: number[];
  transforms: TransformSpec[];
  output: 'logits' | 'probs' | 'detections';
  model?: Record<string, unknown>;
  precision: 'fp32' | 'fp16' | 'int8';
}

/** The contract as ONNX `metadata_props` entries. */
export function contractProps(c: DeployContract): { key: string; value: string }[] {
  const props: Record<string, string> = {
    kestrel: CONTRACT,
    task: c.task,
    names: JSON.stringify(c.names),
    imgsz: JSON.stringify(c.imgsz),
    channels: String(c.channels),
    channel_order: c.channels === 1 ? 'GRAY' : 'RGB',
    input: 'NCHW float32, pixels/255 then (x - mean) / std',
    mean: JSON.stringify(c.mean),
    std: JSON.stringify(c.std),
    transforms: JSON.stringify(c.transforms),
    output: c.output,
    precision: c.precision,
  };
  if (c.model) props.model = JSON.stringify(c.model);
  return Object.entries(props).map(([key, value]) => ({ key, value }));
}

const json = <T extends z.ZodType>(schema: T) =>
  z.string().transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
      return z.NEVER;
    }
  }).pipe(schema);

const schema = z.object({
  kestrel: z.literal(CONTRACT),
  task: z.enum(TASKS),
  names: json(z.array(z.string()).min(1)),
  imgsz: json(z.tuple([z.number().int().positive(), z.number().int().positive()])),
  channels: z.enum(['1', '3']).transform((s) => Number(s) as 1 | 3),
  mean: json(z.array(z.number()).min(1)),
  std: json(z.array(z.number().positive()).min(1)),
  transforms: json(z.unknown()),
  output: z.enum(['logits', 'probs', 'detections']),
  model: json(z.record(z.string(), z.unknown())).optional(),
  precision: z.enum(['fp32', 'fp16', 'int8']).default('fp32'),
});

/** The error for a file whose metadata is not a usable contract. */
export class ContractError extends Error {
  override name = 'ContractError';
}

/**
 * Reads the contract from `metadata_props`. Returns null when the file carries no Kestrel contract
 * (a third-party model: the caller then needs preprocessing from the user); throws ContractError
 * naming the key when the contract is there but malformed.
 */
export function readContract(props: readonly { key: string; value: string }[] | Record<string, string>): DeployContract | null {
  const map: Record<string, string> = Array.isArray(props)
    ? Object.fromEntries((props as { key: string; value: string }[]).map((p) => [p.key, p.value]))
    : { ...(props as Record<string, string>) };
  if (map.kestrel === undefined) return null;
  const r = schema.safeParse(map);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ContractError(`metadata "${issue.path.join('.') || 'kestrel'}" ${issue.message}`);
  }
  const c = r.data;
  if (c.mean.length !== c.channels || c.std.length !== c.channels) {
    throw new ContractError(`metadata mean/std have ${c.mean.length}/${c.std.length} values for ${c.channels} channel(s)`);
  }
  let transforms: TransformSpec[];
  try {
    transforms = parseTransforms(c.transforms);
  } catch (e) {
    throw new ContractError(`metadata "transforms": ${(e as Error).message}`);
  }
  return { ...c, transforms, ...(c.model ? { model: c.model } : {}) } as DeployContract;
}
