/**
 * A batch size that suits the training set. A set smaller than a few batches would train on a
 * couple of steps an epoch and, with the last partial batch dropped, lose a large part of its
 * images (180 images at batch 64: 2 steps, 52 images unseen every epoch). Without --batch such a
 * set gets a smaller batch — at least MIN_STEPS full steps an epoch, so at most a few images are
 * dropped — and a line that says so; a --batch the user gave is kept, with the same warning, and
 * a run with very few optimizer steps in all says that too.
 */

/** Full batches an epoch below which the batch is lowered. */
export const MIN_STEPS = 4;
/** Optimizer steps in a whole run below which the log suggests more epochs. */
export const FEW_STEPS = 100;

export function fitBatch(images: number, given: number | undefined, fallback: number, epochs: number): { batch: number; notes: string[] } {
  if (images < 2) throw new Error(`the training split has ${images} usable image${images === 1 ? '' : 's'}; training needs at least 2`);
  const notes: string[] = [];
  let b = Math.min(given ?? fallback, images);
  if (images < MIN_STEPS * b) {
    const fit = Math.max(2, Math.floor(images / MIN_STEPS));
    if (given === undefined) {
      notes.push(`only ${images} training images, fewer than ${MIN_STEPS} batches of ${fallback}: batch lowered to ${fit} (${Math.floor(images / fit)} steps an epoch; --batch sets it)`);
      b = fit;
    } else {
      notes.push(`only ${images} training images, fewer than ${MIN_STEPS} batches of ${given}: ${Math.floor(images / b)} step${Math.floor(images / b) === 1 ? '' : 's'} an epoch, ${images % b} image${images % b === 1 ? '' : 's'} left out of each (--batch ${fit} would keep nearly all)`);
    }
  }
  const steps = Math.floor(images / b) * epochs;
  if (steps < FEW_STEPS) notes.push(`this run takes only ${steps} optimizer steps (${Math.floor(images / b)} an epoch × ${epochs} epochs): more --epochs (or --time) will likely train better`);
  return { batch: b, notes };
}
