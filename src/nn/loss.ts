import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';

/** Cross entropy over logits, with class weights and label smoothing. */
export class CrossEntropyLoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: F.CrossEntropyOptions = {}) {
    super();
  }
  forward(logits: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(logits, target, this.opts);
  }
}

export class BCEWithLogitsLoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: Parameters<typeof F.binaryCrossEntropyWithLogits>[2] = {}) {
    super();
  }
  forward(logits: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(logits, target, this.opts);
  }
}

export class MSELoss extends Module<[Tensor, Tensor]> {
  constructor(readonly reduction: F.Reduction = 'mean') {
    super();
  }
  forward(x: Tensor, target: Tensor): Tensor {
    return F.mseLoss(x, target, this.reduction);
  }
}

export class L1Loss extends Module<[Tensor, Tensor]> {
  constructor(readonly reduction: F.Reduction = 'mean') {
    super();
  }
  forward(x: Tensor, target: Tensor): Tensor {
    return F.l1Loss(x, target, this.reduction);
  }
}

export class SmoothL1Loss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: { reduction?: F.Reduction; beta?: number } = {}) {
    super();
  }
  forward(x: Tensor, target: Tensor): Tensor {
    return F.smoothL1Loss(x, target, this.opts);
  }
}
