/** The one error type of the data layer: a bad path, folder, manifest or image set, in one line. */
export class DataError extends Error {
  override name = 'DataError';
}

/** A transform pipeline that cannot work (ops in the wrong order, sizes that differ): it fails the epoch rather than skipping samples. */
export class PipelineError extends Error {
  override name = 'PipelineError';
}
