import { native } from '../native/index.js';

/** `cpu`, `cuda` (the current CUDA device) or `cuda:N`. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

/** Validates a device string and, for CUDA, that the linked libtorch can reach that device. */
export function checkDevice(device: string): Device {
  if (device === 'cpu') return device;
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new TypeError(`unknown device '${device}' (expected cpu, cuda or cuda:N)`);
  const count = native().cudaDeviceCount();
  if (count === 0) {
    throw new Error(
      `device '${device}' was requested but the linked libtorch has no usable CUDA ` +
        `(libtorch ${native().buildInfo().version}); point LIBTORCH at a CUDA build and rebuild, or use --device cpu`,
    );
  }
  const index = m[1] === undefined ? 0 : Number(m[1]);
  if (index >= count) throw new RangeError(`device '${device}' does not exist: ${count} CUDA device(s) visible`);
  return device as Device;
}

/** Whether CUDA devices are usable from this process's libtorch. */
export const cudaAvailable = (): boolean => native().cudaDeviceCount() > 0;
