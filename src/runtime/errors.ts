/** A problem with an `.onnx` file or its use, as one line naming the file. */
export class OnnxError extends Error {
  override readonly name = 'OnnxError';
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
  }
}
