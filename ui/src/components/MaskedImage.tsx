/**
 * An image with its predicted mask laid over it: a canvas at the mask's own size (the image's),
 * stretched to the size the image is shown at, each class in the colour `kestrel predict --save`
 * gives it (src/plot/mask-overlay.ts) at the chosen opacity; the background stays clear. A legend
 * lists the classes found with their share of the pixels, for screen readers too.
 */
import { useEffect, useRef } from 'react';
import { classHex, isColoured, maskRgba } from '../../../src/plot/mask-overlay';
import type { SegmentView } from '../api';

const percent = (share: number): string => `${(share * 100).toFixed(share >= 0.001 || share === 0 ? 1 : 2)} %`;

export function MaskedImage({ src, view, opacity, name }: { src: string; view: SegmentView; opacity: number; name: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    ctx.putImageData(new ImageData(maskRgba(view.mask, opacity), view.width, view.height), 0, 0);
  }, [view, opacity]);
  const found = view.shares.filter((s) => s.share > 0);
  return (
    <>
      <div className="boxed">
        <img src={src} alt={`${name} with its mask: ${found.map((s) => `${s.label} ${percent(s.share)}`).join(', ')}`} />
        <canvas ref={ref} className="overlay mask-layer" width={view.width} height={view.height} aria-hidden="true" data-testid="mask" />
      </div>
      <ul className="mask-legend" aria-label="Classes in the mask" data-testid="mask-legend">
        {found.map((s) => (
          <li key={s.class} data-class={s.class}>
            <span className={isColoured(s.class) ? 'swatch' : 'swatch clear'} style={isColoured(s.class) ? { background: classHex(s.class) } : {}} />
            <strong>{s.label}</strong> <span className="share">{percent(s.share)}</span>
          </li>
        ))}
      </ul>
    </>
  );
}
