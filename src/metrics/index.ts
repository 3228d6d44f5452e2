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
export {
  IOU_THRESHOLDS, RECALL_THRESHOLDS, cocoAp, interp, linspace, roundHalfEven, smooth, trapz, ultralyticsAp,
} from './ap.js';
export {
  cocoEvaluate, formatCocoStats,
  type CocoAnnotation, type CocoCategory, type CocoDataset, type CocoDetection, type CocoEvalResult, type CocoImage,
} from './coco-eval.js';
export {
  addToDetectionConfusion, apPerClass, detectionConfusion, matchDetections,
  type ApPerClass, type Detections, type GroundTruth,
} from './detect.js';
export {
  DetectionMetrics, formatDetectionSummary,
  type DetectionClassRow, type DetectionMetricsOptions, type DetectionSummary,
} from './detect-metrics.js';
export {
  SegmentConfusion, formatSegmentReport, segmentMetrics,
  type SegmentClassMetrics, type SegmentMetrics,
} from './segment.js';
