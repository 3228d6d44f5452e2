/** Stub until the MNIST demo lands: `kestrel demo` calls runMnistDemo. */
export interface MnistDemoOptions {
  epochs: number;
  batch: number;
  lr: number;
  limit?: number;
  log: (line: string) => void;
}

export async function runMnistDemo(_opts: MnistDemoOptions): Promise<{ testAccuracy: number; imgPerSec: number }> {
  throw new Error('not implemented');
}
