export {
  CheckpointError,
  SAFETENSORS_DTYPES,
  loadSafetensors,
  parseSafetensors,
  readSafetensorsHeader,
  saveSafetensors,
  serializeSafetensors,
  type LoadOptions,
  type Loaded,
  type SafetensorsHeader,
  type TensorDict,
  type TensorInfo,
} from './safetensors.js';
export { writeFileAtomic } from './atomic.js';
export { readTorchFile, TorchFileError, type RawTensor } from './torch.js';
export { PickleError } from './pickle.js';
export { ZipError, ZipReader, type ZipEntry } from './zip.js';
export { readWeights, type WeightFile } from './weights.js';
