/**
 * Pixels (width × height) an image may have, wherever images are decoded: training data, `val`,
 * `predict` and the server (each has `--max-pixels`). A 35 KB PNG can hold 36 megapixels; this
 * is what keeps a few such files from taking gigabytes. Its own module, free of imports, so the
 * CLI can show it without loading the image decoder.
 */
export const DEFAULT_MAX_PIXELS = 40_000_000;
