export { lineChart, linePanel, type LineChartOptions, type PanelBox, type Series } from './line-chart.js';
export { trainingCurves, trainingCurvesSvg } from './training-curves.js';
export { confusionMatrixPng, confusionMatrixSvg, type ConfusionPlotOptions } from './confusion.js';
export { imageGrid, imageGridPng, type GridItem, type GridOptions } from './image-grid.js';
export { svgToPng, writePngAtomic, writeSvgAsPng } from './png.js';
export { PALETTE, escapeXml } from './svg.js';
export { formatTicks, niceTicks, type TickOptions, type Ticks } from './ticks.js';
export { boxesSvg, drawBoxes, BOX_COLOURS, type DrawnBox } from './boxes.js';
export { detectionConfusionPng, detectionConfusionSvg, f1CurvePng, f1CurveSvg, prCurvePng, prCurveSvg } from './detect-curves.js';
