/**
 * From SVG to PNG files.
 *
 * Why hand-built SVG rasterised by sharp: Node has no well-kept charting library that renders PNG
 * without a browser or a native canvas download (chart.js and vega need node-canvas, whose
 * prebuilt binaries are fetched at install time and often missing; ECharts' and D3's SVG output
 * would still need a rasteriser). sharp is already a dependency for image I/O, and its libvips
 * build bundles librsvg with Pango, so it turns SVG (text included) into PNG with nothing more to
 * install. A few hundred lines of SVG give us exactly the charts a training run needs.
 */
import sharp from 'sharp';
import { writeFileAtomic } from '../checkpoint/atomic.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Rasterises an SVG document to PNG at 1 px per SVG unit (72 dpi).
 *
 * @example
 * const png = await svgToPng(lineChart({ title: 'Loss', xLabel: 'epoch', yLabel: 'loss', series }));
 */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg), { limitInputPixels: false }).png({ compressionLevel: 9 }).toBuffer();
}

/**
 * Writes PNG bytes to `path` atomically: to a temporary file in the same directory, then renamed
 * over `path`, so a viewer never sees half a picture. On error the temporary file is removed and
 * the error is thrown (a missing directory is not created).
 *
 * @example
 * writePngAtomic('runs/exp1/results.png', await svgToPng(svg));
 */
export function writePngAtomic(path: string, png: Uint8Array): void {
  if (png.byteLength < PNG_SIGNATURE.length || !PNG_SIGNATURE.equals(png.subarray(0, PNG_SIGNATURE.length))) {
    throw new TypeError(`writePngAtomic: the data for ${path} is not a PNG`);
  }
  writeFileAtomic(path, [png]);
}

/** Rasterises `svg` and writes it to `outPath` atomically. */
export async function writeSvgAsPng(svg: string, outPath: string): Promise<void> {
  writePngAtomic(outPath, await svgToPng(svg));
}
