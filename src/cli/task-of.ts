/** The task a weights file was trained for, which picks the command's task: a checkpoint's metadata says; `.onnx` files are classifiers (detection export comes later). */
export async function taskOf(weights: string): Promise<string> {
  if (!weights.toLowerCase().endsWith('.safetensors')) return 'classify';
  const { readCheckpointMeta } = await import('../engine/checkpoint.js');
  return readCheckpointMeta(weights).task;
}
