/** The task a weights file was trained for, which picks the command's task: a checkpoint's metadata says; an `.onnx` file's Kestrel contract does (a file without one is taken for a classifier). */
export async function taskOf(weights: string): Promise<string> {
  if (weights.toLowerCase().endsWith('.onnx')) {
    const [{ readOnnxFile }, { readContract }] = await Promise.all([import('../runtime/session.js'), import('../onnx/contract.js')]);
    try {
      return readContract(readOnnxFile(weights).model.metadataProps ?? [])?.task ?? 'classify';
    } catch {
      // An unreadable file or contract: the classifier's loader reports it in its own words.
      return 'classify';
    }
  }
  if (!weights.toLowerCase().endsWith('.safetensors')) return 'classify';
  const { readCheckpointMeta } = await import('../engine/checkpoint.js');
  return readCheckpointMeta(weights).task;
}
