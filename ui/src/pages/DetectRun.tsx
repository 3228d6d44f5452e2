/**
 * What a detection run drew: the best epoch's PR and F1 curves and confusion matrix (with its
 * background row and column), and validation images with their labels beside the predictions.
 */
import type { RunDetail } from '../api';
import { AuthImg } from '../components/AuthImg';

const CURVES: { file: string; alt: string }[] = [
  { file: 'PR_curve.png', alt: 'Precision–recall curve per class, at IoU 0.5' },
  { file: 'F1_curve.png', alt: 'F1 score by confidence threshold, per class' },
  { file: 'confusion_matrix.png', alt: 'Confusion matrix with a background row and column' },
];

export function DetectImages({ run, file }: { run: RunDetail; file: (f: string) => string }) {
  const curves = CURVES.filter((c) => run.plots.includes(c.file));
  const when = run.kind === 'train' ? `best epoch${run.best ? ` (${run.best.epoch})` : ''}` : 'this evaluation';
  return (
    <>
      {curves.length > 0 && (
        <section aria-labelledby="det-curves-title">
          <h3 id="det-curves-title">Precision, recall and confusion</h3>
          <p>On the validation set, {when}.</p>
          <div className="det-plots">
            {curves.map((c) => (
              <figure key={c.file}>
                <AuthImg className="plot" src={file(c.file)} alt={c.alt} loading="lazy" />
                <figcaption>{c.file}</figcaption>
              </figure>
            ))}
          </div>
        </section>
      )}
      {run.valBatches.length > 0 && (
        <section aria-labelledby="val-batch-title">
          <h3 id="val-batch-title">Validation images: labels and predictions</h3>
          <p>The first validation batch{run.best ? ` at the best epoch (${run.best.epoch})` : ''}: the labels on the left, the predictions scoring 0.25 or more on the right.</p>
          {run.valBatches.map((b) => (
            <div key={b.labels} className="pair" data-testid="val-pair">
              <figure>
                <AuthImg src={file(b.labels)} alt={`Validation images with their labelled boxes (${b.labels})`} loading="lazy" />
                <figcaption>Ground truth</figcaption>
              </figure>
              <figure>
                <AuthImg src={file(b.pred)} alt={`The same images with the predicted boxes (${b.pred})`} loading="lazy" />
                <figcaption>Predictions</figcaption>
              </figure>
            </div>
          ))}
        </section>
      )}
    </>
  );
}
