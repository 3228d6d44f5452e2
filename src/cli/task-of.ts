/**
 * The task a weights file was made for, which picks the command's task: a checkpoint's metadata
 * says, and so does an exported `.onnx` file's contract; an `.onnx` without one (a third-party
 * model) is taken for a classifier, whose preprocessing the user then gives.
 */
export async function taskOf(weights: string): Promise<string> {
  const lower = weights.toLowerCase();
  if (lower.endsWith('.onnx')) {
    const [{ readOnnxFile }, { readContract }] = await Promise.all([import('../runtime/session.js'), import('../onnx/contract.js')]);
    // A file that cannot be read or whose contract is malformed is reported by the classify path, which names the problem.
    try {
      return readContract(readOnnxFile(weights).model.metadataProps ?? [])?.task ?? 'classify';
    } catch {
      return 'classify';
    }
  }
  if (!lower.endsWith('.safetensors')) return 'classify';
  const { readCheckpointMeta } = await import('../engine/checkpoint.js');
  return readCheckpointMeta(weights).task;
}
