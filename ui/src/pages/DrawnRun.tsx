/**
 * What a detection or segmentation run drew: the best epoch's PR and F1 curves (detection) or IoU
 * per class (segmentation), its confusion matrix (with a background row and column, or of pixels
 * row-normalised), and validation images with their labels beside the predictions.
 */
import type { RunDetail } from '../api';
import { AuthImg } from '../components/AuthImg';

const CURVES: Record<'detect' | 'segment', { file: string; alt: string }[]> = {
  detect: [
    { file: 'PR_curve.png', alt: 'Precision–recall curve per class, at IoU 0.5' },
    { file: 'F1_curve.png', alt: 'F1 score by confidence threshold, per class' },
    { file: 'confusion_matrix.png', alt: 'Confusion matrix with a background row and column' },
  ],
  segment: [
    { file: 'iou_per_class.png', alt: 'IoU (and Dice) per class, with the mIoU' },
    { file: 'confusion_matrix.png', alt: 'Pixel confusion matrix, each true class\'s row normalised' },
  ],
};

/** Per task: the section's title, and what the predictions on the right are. */
const WORDS = {
  detect: { title: 'Precision, recall and confusion', pred: 'the predictions scoring 0.25 or more', truthAlt: 'their labelled boxes', predAlt: 'the predicted boxes' },
  segment: { title: 'IoU per class and confusion', pred: 'the predicted masks', truthAlt: 'their ground-truth masks', predAlt: 'the predicted masks' },
} as const;

export function DrawnRunImages({ run, file, task }: { run: RunDetail; file: (f: string) => string; task: 'detect' | 'segment' }) {
  const curves = CURVES[task].filter((c) => run.plots.includes(c.file));
  const words = WORDS[task];
  const when = run.kind === 'train' ? `best epoch${run.best ? ` (${run.best.epoch})` : ''}` : 'this evaluation';
  return (
    <>
      {curves.length > 0 && (
        <section aria-labelledby="det-curves-title">
          <h3 id="det-curves-title">{words.title}</h3>
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
          <p>The first validation batch{run.best ? ` at the best epoch (${run.best.epoch})` : ''}: the labels on the left, {words.pred} on the right.</p>
          {run.valBatches.map((b) => (
            <div key={b.labels} className="pair" data-testid="val-pair">
              <figure>
                <AuthImg src={file(b.labels)} alt={`Validation images with ${words.truthAlt} (${b.labels})`} loading="lazy" />
                <figcaption>Ground truth</figcaption>
              </figure>
              <figure>
                <AuthImg src={file(b.pred)} alt={`The same images with ${words.predAlt} (${b.pred})`} loading="lazy" />
                <figcaption>Predictions</figcaption>
              </figure>
            </div>
          ))}
        </section>
      )}
    </>
  );
}
