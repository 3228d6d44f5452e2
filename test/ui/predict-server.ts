/**
 * The prediction routes of kestrel serve's API (GET /v1/models, the model's bytes, POST
 * /v1/predict with multipart images), implemented here with OnnxClassifier for the browser tests,
 * so the predict page can be tested against the API it is written for.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { decodeImage } from '../../src/data/image.js';
import { Rng } from '../../src/data/rng.js';
import { applyTransforms } from '../../src/data/transforms.js';
import type { OnnxClassifier } from '../../src/runtime/index.js';

export async function predictRoutes(app: FastifyInstance, clf: OnnxClassifier, bytes: Uint8Array): Promise<void> {
  await app.register(multipart);
  const p = clf.preprocessing;
  app.get('/v1/models', async () => ({
    models: [{
      id: 'default', task: 'classify', names: p.names, imgsz: p.imgsz, channels: p.channels, mean: p.mean, std: p.std,
      transforms: p.transforms, output: p.output, precision: 'fp32', onnx: '/v1/models/default/model.onnx',
    }],
  }));
  app.get('/v1/models/default/model.onnx', async (_req, reply) => reply.type('application/octet-stream').send(Buffer.from(bytes)));
  app.post<{ Querystring: { topk?: string } }>('/v1/predict', async (req) => {
    const k = Number(req.query.topk ?? 5);
    const predictions = [];
    for await (const part of req.files()) {
      const img = await decodeImage(await part.toBuffer(), { channels: p.channels });
      const x = applyTransforms(img, p.transforms, new Rng(0));
      const [top] = await clf.classify(x.data, 1, [x.channels, x.height, x.width], k);
      predictions.push({ source: part.filename, top });
    }
    return { predictions };
  });
}
