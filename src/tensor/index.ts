export { Tensor, call, callMany, callVoid, op, collectedByGc, type Scalar, type TensorOrScalar } from './tensor.js';
export * from './creation.js';
export * from './runtime.js';
export { tidy, keep, scopeDepth } from './scope.js';
export { type DType, type DataArray, isFloating, DTYPES } from './dtype.js';
export { type Device, cudaAvailable, checkDevice } from './device.js';
export { adamStep, hasFusedAdam, type AdamStepScalars } from './fused.js';
