/**
 * Label: one unlabelled image at a time; a class button or its key (shown on the button) labels
 * it (stored on the server before the next image shows), U undoes, S skips. Labels are then
 * moved or copied into the class folders, or exported as CSV.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AuthImg, download } from '../components/AuthImg';
import { TokenForm } from '../components/TokenForm';
import { classKeys } from '../../../src/ui/label-keys';
import { getJson, postJson, type ApiError, type ApplyResult, type Decision, type Progress } from '../api';

interface Info {
  root: string;
  classes: string[];
  progress: Progress;
}

const typing = (t: EventTarget | null): boolean => t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));

export function LabelPage() {
  const [info, setInfo] = useState<Info | null>(null);
  const keys = useMemo(() => classKeys(info?.classes ?? []), [info]);
  // A class named u or s takes that letter; Ctrl+Z and the buttons still undo and skip.
  const uUndoes = !keys.includes('u') && !keys.includes('U');
  const sSkips = !keys.includes('s') && !keys.includes('S');
  const [error, setError] = useState<ApiError | null>(null);
  const [image, setShown] = useState<string | null>(null);
  /**
   * The image on screen, for the handlers: the window key listener is replaced only in an effect
   * after the render, so a key pressed the moment the next image shows can still reach the old
   * listener. Reading the image from here labels what the user sees, never the one before.
   */
  const current = useRef<string | null>(null);
  const setImage = useCallback((next: string | null) => {
    current.current = next;
    setShown(next);
  }, []);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [status, setStatus] = useState('');
  const busy = useRef(false);

  useEffect(() => {
    Promise.all([getJson<Info>('/v1/label'), getJson<{ image: string | null }>('/v1/label/next')])
      .then(([i, n]) => {
        setInfo(i);
        setProgress(i.progress);
        setImage(n.image);
      })
      .catch((e: ApiError) => setError(e));
  }, [setImage]);

  /** Runs one request at a time, so a held-down key cannot label an image twice. */
  const once = useCallback(async (fn: () => Promise<void>) => {
    if (busy.current) return;
    busy.current = true;
    try {
      await fn();
    } catch (e) {
      setStatus(`Not done: ${(e as Error).message}`);
    } finally {
      busy.current = false;
    }
  }, []);

  const label = useCallback((cls: string) => once(async () => {
    const image = current.current;
    if (image === null) return;
    const r = await postJson<{ decision: Decision; image: string | null; progress: Progress }>('/v1/label', { image, class: cls });
    setImage(r.image);
    setProgress(r.progress);
    setStatus(`${r.decision.image} → ${cls}. ${r.progress.labelled} of ${r.progress.total} labelled.`);
  }), [once, setImage]);

  const undo = useCallback(() => once(async () => {
    const r = await postJson<{ undone: Decision; progress: Progress }>('/v1/label/undo');
    setImage(r.undone.image);
    setProgress(r.progress);
    setStatus(`Undone: ${r.undone.image} is no longer ${r.undone.class}.`);
  }), [once, setImage]);

  const skip = useCallback(() => once(async () => {
    const image = current.current;
    if (image === null) return;
    const r = await getJson<{ image: string | null }>(`/v1/label/next?after=${encodeURIComponent(image)}`);
    setImage(r.image);
    setStatus(r.image === image ? 'This is the only image left.' : `Skipped ${image}; it comes round again later.`);
  }), [once, setImage]);

  const apply = (mode: 'move' | 'copy'): Promise<void> => once(async () => {
    const r = await postJson<ApplyResult & { progress: Progress }>('/v1/label/apply', { mode });
    setProgress(r.progress);
    const verb = mode === 'move' ? 'Moved' : 'Copied';
    setStatus(`${verb} ${r.applied.length} image${r.applied.length === 1 ? '' : 's'} into the class folders${r.already ? ` (${r.already} done before)` : ''}.${r.failed.length ? ` ${r.failed.length} failed: ${r.failed.map((f) => `${f.image} (${f.reason})`).join('; ')}` : ''}`);
  });

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (typing(e.target) || e.altKey || !info) return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === 'z') {
        e.preventDefault();
        void undo();
        return;
      }
      if (mod) return;
      const i = keys.indexOf(e.key);
      if (i >= 0) {
        e.preventDefault();
        void label(info.classes[i]!);
      } else if (uUndoes && (e.key === 'u' || e.key === 'U')) {
        void undo();
      } else if (sSkips && (e.key === 's' || e.key === 'S')) {
        void skip();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [info, keys, uUndoes, sSkips, label, undo, skip]);

  if (error) {
    return (
      <section aria-labelledby="label-title">
        <h1 id="label-title">Label images</h1>
        {error.status === 401 && <TokenForm onSaved={() => location.reload()} />}
        <p className="notice">{error.status === 401 ? 'The labelling API needs the access token.' : error.status === 404 ? <>No labelling project: start <code>kestrel ui --label path/to/imagefolder</code> (images to label in its <code>unlabelled/</code> folder).</> : error.message}</p>
      </section>
    );
  }
  if (!info || !progress) return <p role="status">Loading…</p>;
  const done = progress.total === 0 ? 1 : progress.labelled / progress.total;
  return (
    <section aria-labelledby="label-title" className="label-page">
      <h1 id="label-title">Label images</h1>
      <p className="progress-line">
        <label htmlFor="label-progress">
          <strong data-testid="labelled">{progress.labelled}</strong> of {progress.total} labelled
          {progress.applied > 0 ? `, ${progress.applied} applied to the folders` : ''}
        </label>
        <progress id="label-progress" max={1} value={done} />
      </p>
      <div className="labeller">
        <div className="subject">
          {image === null ? (
            <p className="notice" data-testid="all-done">Every image is labelled. Apply the labels to the class folders or export them below.</p>
          ) : (
            <figure>
              <AuthImg key={image} src={`/v1/label/images/${encodeURIComponent(image)}`} alt={`Image to label: ${image}`} />
              <figcaption data-testid="current-image">{image}</figcaption>
            </figure>
          )}
        </div>
        <div className="choices">
          <h2 className="visually-hidden">Classes</h2>
          <p className="hint" id="keys-hint">
            Press a class's key, or choose a class. {uUndoes ? <kbd>U</kbd> : <><kbd>Ctrl</kbd>+<kbd>Z</kbd></>} undoes{sSkips ? <>, <kbd>S</kbd> skips</> : ''}.
          </p>
          <ul className="classes" aria-describedby="keys-hint">
            {info.classes.map((c, i) => (
              <li key={c}>
                <button type="button" onClick={() => void label(c)} disabled={image === null} aria-keyshortcuts={keys[i] ?? undefined}>
                  {keys[i] ? <kbd aria-hidden="true">{keys[i]}</kbd> : null}
                  <span className="class-name">{c}</span>
                  <span className="count" aria-label={`${progress.byClass[c] ?? 0} labelled`}>{progress.byClass[c] ?? 0}</span>
                </button>
              </li>
            ))}
          </ul>
          <div className="row">
            <button type="button" onClick={() => void undo()} aria-keyshortcuts={uUndoes ? 'U Control+Z' : 'Control+Z'}>Undo</button>
            <button type="button" onClick={() => void skip()} disabled={image === null} aria-keyshortcuts={sSkips ? 'S' : undefined}>Skip</button>
          </div>
        </div>
      </div>
      <p className="status" role="status" aria-live="polite" data-testid="label-status">{status}</p>
      <section aria-labelledby="apply-title" className="panel">
        <h2 id="apply-title">Apply the labels</h2>
        <p>Labelled images go into their class folders under <code>{info.root}</code>. Labels already applied are skipped, so this is safe to repeat.</p>
        <div className="row">
          <button type="button" onClick={() => void apply('move')}>Move into class folders</button>
          <button type="button" onClick={() => void apply('copy')}>Copy into class folders</button>
          <button type="button" onClick={() => void once(() => download('/v1/label/export.csv', 'labels.csv'))}>Export CSV</button>
        </div>
      </section>
    </section>
  );
}
