/**
 * Predict: drop or pick images and see the top classes, for a detector the boxes drawn over the
 * image with a score threshold, or for a segmentation model the mask over the image with an
 * opacity slider and the class shares, computed on the server (POST /v1/predict) or in this
 * browser (ONNX Runtime Web), where the images never leave the machine.
 */
import { useCallback, useEffect, useRef, useState, type DragEvent } from 'react';
import type { PredictedBox } from '../../../src/plot/box-overlay';
import { ApiError, getJson, request, type ClassShare, type ModelInfo, type SegmentView, type Top } from '../api';
import { BoxedImage } from '../components/BoxedImage';
import { MaskedImage } from '../components/MaskedImage';
import { ScoreBars } from '../components/ScoreBars';
import { TokenForm } from '../components/TokenForm';
import type { BrowserModel } from '../infer';
import { maskFromPng } from '../mask';

type Where = 'server' | 'browser';

interface Item {
  key: number;
  /** Bumped when the item is classified again: answers for an older round are dropped. */
  round: number;
  file: File;
  url: string;
  state: 'working' | 'done' | 'error';
  where: Where;
  top?: Top;
  /** A detector's answer. */
  boxes?: PredictedBox[];
  /** A segmentation model's answer. */
  seg?: SegmentView;
  error?: string;
  ms?: number;
}

const isImage = (f: File): boolean => f.type.startsWith('image/') || /\.(jpe?g|png|webp|gif|tiff?)$/i.test(f.name);

type Answer = { top: Top } | { boxes: PredictedBox[] } | { seg: SegmentView } | { error: string };

type ServerPrediction = { top?: Top; boxes?: PredictedBox[]; mask?: { png: string; width: number; height: number }; shares?: ClassShare[]; error?: string | { message: string } };

/** One answer per file: top classes from a classifier (k of them), boxes from a detector or a mask from a segmentation model (k: null). */
async function predictOnServer(files: File[], k: number | null): Promise<Answer[]> {
  const form = new FormData();
  for (const f of files) form.append('images', f, f.name);
  const r = await request(k === null ? '/v1/predict' : `/v1/predict?topk=${k}`, { method: 'POST', body: form });
  const body = (await r.json()) as { predictions: ServerPrediction[] };
  return Promise.all(body.predictions.map(async (p): Promise<Answer> => {
    if (p.mask && p.shares) {
      const { png, width, height } = p.mask;
      return { seg: { mask: await maskFromPng(png, width, height), width, height, shares: p.shares } };
    }
    return p.boxes ? { boxes: p.boxes } : p.top ? { top: p.top } : { error: typeof p.error === 'string' ? p.error : p.error?.message ?? 'no prediction' };
  }));
}

/** What the page says it does with the images, per task. */
const DOING = { classify: ['Classifying', 'classified'], detect: ['Detecting objects in', 'searched for objects'], segment: ['Segmenting', 'segmented'] } as const;

/** Ultralytics' and `kestrel predict`'s default confidence. */
const DEFAULT_THRESHOLD = 0.25;
/** The mask's opacity at first: what `kestrel predict --save` blends at. */
const DEFAULT_OPACITY = 0.5;

export function PredictPage() {
  const [model, setModel] = useState<ModelInfo | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [where, setWhere] = useState<Where>('server');
  const [k, setK] = useState(5);
  const [minScore, setMinScore] = useState(DEFAULT_THRESHOLD);
  const [opacity, setOpacity] = useState(DEFAULT_OPACITY);
  const [items, setItems] = useState<Item[]>([]);
  const [status, setStatus] = useState('');
  const [dragging, setDragging] = useState(false);
  const browserModel = useRef<Promise<BrowserModel> | null>(null);
  const nextKey = useRef(0);
  const urls = useRef<string[]>([]);

  const loadModels = useCallback(() => {
    setLoadError(null);
    getJson<{ models: ModelInfo[] }>('/v1/models')
      .then((r) => setModel(r.models[0] ?? null))
      .catch((e: ApiError) => setLoadError(e));
  }, []);
  useEffect(loadModels, [loadModels]);
  useEffect(() => () => urls.current.forEach((u) => URL.revokeObjectURL(u)), []);

  const update = (it: Item, patch: Partial<Item>): void => setItems((all) => all.map((i) => (i.key === it.key && i.round === it.round ? { ...i, ...patch } : i)));

  const run = useCallback(async (batch: Item[], mode: Where, topk: number) => {
    if (model === null || batch.length === 0) return;
    const t0 = performance.now();
    const task = model.task;
    const [doing, done] = DOING[task];
    const images = `${batch.length} image${batch.length > 1 ? 's' : ''}`;
    const place = mode === 'server' ? 'on the server' : 'in this browser';
    setStatus(`${doing} ${images} ${place}…`);
    try {
      if (mode === 'server') {
        const out = await predictOnServer(batch.map((i) => i.file), task === 'classify' ? topk : null);
        const ms = Math.round(performance.now() - t0);
        batch.forEach((it, n) => {
          const r = out[n];
          update(it, r && !('error' in r) ? { state: 'done', where: mode, ...r, ms } : { state: 'error', where: mode, error: r?.error ?? 'no prediction' });
        });
      } else {
        if (browserModel.current === null) {
          setStatus('Loading the model into this browser…');
          const { BrowserModel } = await import('../infer');
          browserModel.current = BrowserModel.load(model);
          browserModel.current.catch(() => (browserModel.current = null));
        }
        const bm = await browserModel.current;
        for (const it of batch) {
          const t1 = performance.now();
          try {
            const answer = task === 'detect' ? { boxes: await bm.detect(it.file) } : task === 'segment' ? { seg: await bm.segment(it.file) } : { top: await bm.classify(it.file, topk) };
            update(it, { state: 'done', where: mode, ...answer, ms: Math.round(performance.now() - t1) });
          } catch (e) {
            update(it, { state: 'error', where: mode, error: (e as Error).message });
          }
        }
      }
      setStatus(`Done: ${images} ${done} ${place}.`);
    } catch (e) {
      const msg = (e as Error).message;
      for (const it of batch) update(it, { state: 'error', where: mode, error: msg });
      setStatus(`Failed: ${msg}`);
      if (e instanceof ApiError && e.status === 401) setLoadError(e);
    }
  }, [model]);

  const addFiles = (list: FileList | File[]): void => {
    const files = [...list].filter(isImage);
    if (files.length === 0) {
      setStatus('No image files there: pick JPEG, PNG, WebP, GIF or TIFF files.');
      return;
    }
    const added = files.map((file): Item => ({ key: nextKey.current++, round: 0, file, url: URL.createObjectURL(file), state: 'working', where }));
    urls.current.push(...added.map((i) => i.url));
    setItems((all) => [...added, ...all]);
    void run(added, where, k);
  };

  const switchTo = (mode: Where): void => {
    setWhere(mode);
    // The images on the page are classified again, so the two ways can be compared.
    const again = items.map((i) => ({ ...i, round: i.round + 1, state: 'working' as const, where: mode }));
    setItems(again);
    void run(again, mode, k);
  };

  const onDrop = (e: DragEvent): void => {
    e.preventDefault();
    setDragging(false);
    addFiles(e.dataTransfer.files);
  };

  return (
    <section aria-labelledby="predict-title">
      <h1 id="predict-title">Predict</h1>
      {loadError?.status === 401 && <TokenForm onSaved={loadModels} />}
      {loadError && loadError.status !== 401 && (
        <p className="notice" role="status" data-testid="no-model">
          No model is loaded{loadError.status === 404 ? '' : ` (${loadError.message})`}. Start <code>kestrel serve --weights model.onnx</code> (or <code>kestrel ui --weights model.onnx</code>) to classify images here.
        </p>
      )}
      {model && (
        <>
          <p className="model-info">
            Model <strong>{model.id}</strong>: {model.task === 'detect' ? 'a detector of ' : model.task === 'segment' ? 'a segmentation model of ' : ''}{model.names.length} classes, {model.imgsz[0]}×{model.imgsz[1]} px, {model.channels === 1 ? 'grey' : 'RGB'}
            {model.precision ? `, ${model.precision}` : ''}.
          </p>
          <div className="controls">
            <fieldset className="switch">
              <legend>Run the model</legend>
              <label>
                <input type="radio" name="where" value="server" checked={where === 'server'} onChange={() => switchTo('server')} /> on the server
              </label>
              <label>
                <input type="radio" name="where" value="browser" checked={where === 'browser'} onChange={() => switchTo('browser')} /> in this browser
              </label>
            </fieldset>
            {model.task === 'segment' ? (
              <label className="threshold">
                Mask opacity
                <input type="range" min={0} max={1} step={0.05} value={opacity} onChange={(e) => setOpacity(Number(e.target.value))} aria-valuetext={`${Math.round(opacity * 100)} %`} />
                <output data-testid="opacity">{opacity.toFixed(2)}</output>
              </label>
            ) : model.task === 'detect' ? (
              <label className="threshold">
                Score threshold
                <input type="range" min={0} max={1} step={0.05} value={minScore} onChange={(e) => setMinScore(Number(e.target.value))} aria-valuetext={minScore.toFixed(2)} />
                <output data-testid="threshold">{minScore.toFixed(2)}</output>
              </label>
            ) : (
              <label className="topk">
                Labels per image{' '}
                <input type="number" min={1} max={Math.min(20, model.names.length)} value={k} onChange={(e) => setK(Math.max(1, Math.min(20, Number(e.target.value) || 1)))} />
              </label>
            )}
          </div>
          <p className="privacy" id="privacy">
            {where === 'browser'
              ? 'In this browser: the model is downloaded once and runs here with ONNX Runtime Web (WebAssembly). Your images never leave this machine.'
              : `On the server: your images are uploaded to this Kestrel server, ${DOING[model.task][1]} and not kept.`}
          </p>
          <div
            className={`drop${dragging ? ' over' : ''}`}
            onDragOver={(e) => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={onDrop}
          >
            <p>Drop images here, or</p>
            <label className="button">
              Choose images…
              <input
                className="visually-hidden"
                type="file"
                accept="image/*"
                multiple
                aria-describedby="privacy"
                onChange={(e) => {
                  if (e.target.files) addFiles(e.target.files);
                  e.target.value = '';
                }}
              />
            </label>
          </div>
        </>
      )}
      <p className="status" role="status" aria-live="polite">{status}</p>
      {items.length > 0 && (
        <ul className="results" aria-label="Predictions">
          {items.map((it) => (
            <li key={it.key} className={it.state === 'done' && (it.boxes || it.seg) ? 'card detect' : 'card'} data-state={it.state} data-where={it.where}>
              {!(it.state === 'done' && (it.boxes || it.seg)) && <img src={it.url} alt="" />}
              <div>
                <h2 className="card-title">{it.file.name}</h2>
                {it.state === 'working' && <p>Working…</p>}
                {it.state === 'error' && <p className="error">{it.error}</p>}
                {it.state === 'done' && it.top && <ScoreBars top={it.top} />}
                {it.state === 'done' && it.boxes && <BoxedImage src={it.url} boxes={it.boxes} minScore={minScore} name={it.file.name} />}
                {it.state === 'done' && it.seg && <MaskedImage src={it.url} view={it.seg} opacity={opacity} name={it.file.name} />}
                {it.state === 'done' && (
                  <p className="where">{it.where === 'server' ? 'on the server' : 'in this browser'}{it.ms === undefined ? '' : ` · ${it.ms} ms`}</p>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
