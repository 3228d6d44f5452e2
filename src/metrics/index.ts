export {
  classificationReport,
  confusionMatrix,
  formatReport,
  fromConfusionMatrix,
  topK,
  type AverageMetrics,
  type ClassificationMetrics,
  type ClassMetrics,
} from './classify.js';
export { boxCount, boxIou, cxcywhToXyxy, xywhToXyxy, xyxyToXywh, type Boxes } from './boxes.js';
export { NMS_PREDICT, NMS_VAL, nms, type NmsOptions } from './nms.js';
