/**
 * Runs: the training and validation runs of the project folder, and for one run its arguments,
 * final metrics, the best epoch (the trainer's) and the test split's accuracy, curves from
 * results.csv, and what the task drew: for classification the confusion matrix and the validation
 * images it got wrong, for detection the PR and F1 curves, the confusion matrix and validation
 * images with their labels beside the predictions, for segmentation the mIoU, Dice and loss curves,
 * IoU per class, the pixel confusion matrix and validation images with ground truth beside
 * prediction (DrawnRun.tsx).
 */
import { useEffect, useState } from 'react';
import { getJson, runPath, type ApiError, type RunDetail, type RunSummary } from '../api';
import { AuthImg } from '../components/AuthImg';
import { ConfusionTable } from '../components/ConfusionTable';
import { LineChart } from '../components/LineChart';
import { TokenForm } from '../components/TokenForm';
import { pct } from '../components/ScoreBars';
import { DrawnRunImages } from './DrawnRun';
import { bestText, classifyCurves, detectCurves, segmentCurves, SHOWN_PLOTS } from './run-parts';

const fmt = (k: string, v: number): string => (/accuracy|top5|^acc/.test(k) ? pct(v) : k === 'lr' ? v.toExponential(2) : Number.isInteger(v) ? String(v) : v.toFixed(4));
const when = (iso: string): string => new Date(iso).toLocaleString();

function useJson<T>(path: string | null): { data: T | null; error: ApiError | null } {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null }>({ data: null, error: null });
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState({ data: null, error: null });
    getJson<T>(path).then((data) => live && setState({ data, error: null }), (error: ApiError) => live && setState({ data: null, error }));
    return () => {
      live = false;
    };
  }, [path]);
  return state;
}

function RunList() {
  const { data, error } = useJson<{ project: string | null; runs: RunSummary[] }>('/v1/runs');
  if (error?.status === 401) return <TokenForm onSaved={() => location.reload()} />;
  if (error) return <p className="error" role="alert">{error.message}</p>;
  if (!data) return <p role="status">Loading runs…</p>;
  if (data.project === null) return <p className="notice">No runs folder: start <code>kestrel ui --project runs/</code>.</p>;
  if (data.runs.length === 0) return <p className="notice">No runs in <code>{data.project}</code> yet: train one with <code>kestrel train</code>.</p>;
  return (
    <>
      <p>{data.runs.length} run{data.runs.length > 1 ? 's' : ''} in <code>{data.project}</code>, newest first.</p>
      <ul className="run-list">
        {data.runs.map((r) => (
          <li key={r.id}>
            <a href={`#/runs/${encodeURIComponent(r.id)}`} className="run-link">
              <span className="run-name">{r.id}</span>
              <span className="run-meta">
                {r.kind === 'train' ? 'training' : 'validation'}
                {r.task ? ` · ${r.task}` : ''}
                {r.model ? ` · ${r.model}` : ''}
                {r.data ? ` · ${r.data}` : ''}
                {r.epochs ? ` · ${r.epochs.done}${r.epochs.total ? `/${r.epochs.total}` : ''} epochs` : ''}
              </span>
              <span className="run-score">
                {r.best ? bestText(r.best) : r.final.accuracy !== undefined ? `accuracy ${pct(r.final.accuracy)}` : r.final['mAP50-95'] !== undefined ? `mAP50-95 ${r.final['mAP50-95'].toFixed(3)}` : r.final.mIoU !== undefined ? `mIoU ${r.final.mIoU.toFixed(3)}` : 'no results yet'}
                {r.test ? ` · test accuracy ${pct(r.test.accuracy)}` : ''}
              </span>
              <span className="run-time">updated {when(r.updated)}</span>
            </a>
          </li>
        ))}
      </ul>
    </>
  );
}

function RunView({ id }: { id: string }) {
  const { data: run, error } = useJson<RunDetail>(runPath(id));
  if (error?.status === 401) return <TokenForm onSaved={() => location.reload()} />;
  if (error) return <p className="error" role="alert">{error.message}</p>;
  if (!run) return <p role="status">Loading {id}…</p>;
  const drawn = run.task === 'detect' || run.task === 'segment' ? run.task : null;
  const charts = (drawn === 'detect' ? detectCurves : drawn === 'segment' ? segmentCurves : classifyCurves)(run.results).filter((c) => c.series.length > 0);
  const own = drawn ? SHOWN_PLOTS[drawn]! : [];
  const file = (f: string): string => runPath(id, `/files/${f.split('/').map(encodeURIComponent).join('/')}`);
  const args = Object.entries(run.args ?? {}).filter(([k]) => k !== 'classes');
  return (
    <article aria-labelledby="run-title">
      <h2 id="run-title">{run.id}</h2>
      <p className="run-meta">
        {run.kind === 'train' ? 'Training run' : 'Validation run'}
        {run.task ? ` · ${run.task}` : ''}
        {run.model ? ` · ${run.model}` : ''}
        {run.data ? ` · data ${run.data}` : ''}
        {run.epochs ? ` · ${run.epochs.done}${run.epochs.total ? ` of ${run.epochs.total}` : ''} epochs` : ''} · updated {when(run.updated)}
      </p>
      {Object.keys(run.final).length > 0 && (
        <section aria-labelledby="final-title">
          <h3 id="final-title">{run.kind === 'train' ? `Last epoch` : 'Metrics'}</h3>
          <dl className="metrics">
            {Object.entries(run.final).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{fmt(k, v)}</dd>
              </div>
            ))}
            {run.best && 'val_accuracy' in run.best && (
              <div>
                <dt>best val_accuracy</dt>
                <dd>{pct(run.best.val_accuracy)} (epoch {run.best.epoch})</dd>
              </div>
            )}
            {run.best && 'mIoU' in run.best && (
              <div>
                <dt>best mIoU</dt>
                <dd>{run.best.mIoU.toFixed(3)}, mean Dice {run.best.mean_dice.toFixed(3)}, pixel accuracy {pct(run.best.pixel_accuracy)} (epoch {run.best.epoch})</dd>
              </div>
            )}
            {run.best && 'mAP50' in run.best && (
              <div>
                <dt>best mAP50-95</dt>
                <dd>{run.best['mAP50-95'].toFixed(3)}, mAP50 {run.best.mAP50.toFixed(3)} (epoch {run.best.epoch})</dd>
              </div>
            )}
            {run.test && (
              <div>
                <dt>test accuracy</dt>
                <dd>{pct(run.test.accuracy)}{run.test.top5 === null ? '' : `, top-5 ${pct(run.test.top5)}`} (best epoch {run.test.epoch}, {run.test.count} images)</dd>
              </div>
            )}
          </dl>
        </section>
      )}
      {run.results.length > 0 && (
        <section aria-labelledby="curves-title">
          <h3 id="curves-title">Curves</h3>
          <div className="charts" data-testid="curves">
            {charts.map((c) => <LineChart key={c.title} title={c.title} yLabel={c.yLabel} series={c.series} {...(c.format ? { format: c.format } : {})} {...(c.domain ? { domain: c.domain } : {})} />)}
          </div>
          <details>
            <summary>Every epoch's numbers (results.csv)</summary>
            <div className="scroll" tabIndex={0} role="region" aria-label="results.csv">
              <table className="numbers">
                <thead>
                  <tr>{Object.keys(run.results[0]!).map((k) => <th key={k} scope="col">{k}</th>)}</tr>
                </thead>
                <tbody>
                  {run.results.map((r, i) => (
                    <tr key={i}>{Object.entries(r).map(([k, v]) => <td key={k}>{typeof v === 'number' ? fmt(k, v) : v}</td>)}</tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </section>
      )}
      {run.confusion && (
        <section aria-labelledby="cm-title">
          <h3 id="cm-title">Confusion matrix</h3>
          {run.confusion.classes.length <= 30 ? (
            <ConfusionTable classes={run.confusion.classes} matrix={run.confusion.matrix} caption={`Validation, ${run.confusion.epoch ? `best epoch (${run.confusion.epoch})` : 'this evaluation'}: rows are the true classes, columns the predicted ones`} />
          ) : run.plots.includes('confusion_matrix.png') ? (
            <AuthImg className="plot" src={file('confusion_matrix.png')} alt={`Confusion matrix of ${run.confusion.classes.length} classes`} />
          ) : null}
        </section>
      )}
      {drawn && <DrawnRunImages run={run} file={file} task={drawn} />}
      {run.errors && (
        <section aria-labelledby="errors-title">
          <h3 id="errors-title">Misclassified validation images</h3>
          <p>
            {run.errors.wrong} of {run.errors.total} validation images were wrong at epoch {run.errors.epoch}
            {run.errors.items.length < run.errors.wrong ? `; the ${run.errors.items.length} most confident mistakes:` : run.errors.wrong > 0 ? ':' : '.'}
          </p>
          <ul className="gallery">
            {run.errors.items.map((e) => (
              <li key={e.file}>
                <figure>
                  <AuthImg src={file(`val_errors/${e.file}`)} alt={`A ${e.true} taken for ${e.pred}`} loading="lazy" title={e.source ?? e.id} />
                  <figcaption>
                    <span>true <strong>{e.true}</strong></span>
                    <span>predicted <strong>{e.pred}</strong> {pct(e.score)}</span>
                  </figcaption>
                </figure>
              </li>
            ))}
          </ul>
        </section>
      )}
      {args.length > 0 && (
        <details>
          <summary>Arguments (args.yaml)</summary>
          <dl className="args">
            {args.map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>
              </div>
            ))}
          </dl>
        </details>
      )}
      {run.plots.some((p) => !own.includes(p)) && (
        <details>
          <summary>Plots written by the trainer</summary>
          {run.plots.filter((p) => !own.includes(p)).map((p) => <AuthImg key={p} className="plot" src={file(p)} alt={p} loading="lazy" />)}
        </details>
      )}
    </article>
  );
}

export function RunsPage({ id }: { id: string | null }) {
  return (
    <section aria-labelledby="runs-title">
      <h1 id="runs-title">Training runs</h1>
      {id === null ? (
        <RunList />
      ) : (
        <>
          <p><a href="#/runs">← All runs</a></p>
          <RunView id={id} />
        </>
      )}
    </section>
  );
}
