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
