/**
 * An image with predicted boxes drawn over it: outlines and "label score" tabs in the class's
 * colour, laid out by overlayBoxes (src/plot/box-overlay.ts) for the size the image is shown at,
 * and again whenever that size changes. The boxes are also listed as text below, for screen readers.
 */
import { useEffect, useRef, useState } from 'react';
import { overlayBoxes, type PredictedBox, type Size } from '../../../src/plot/box-overlay';

const FONT = 12;
const TAB_H = FONT + 4;

export function BoxedImage({ src, boxes, minScore, name }: { src: string; boxes: PredictedBox[]; minScore: number; name: string }) {
  const ref = useRef<HTMLImageElement>(null);
  const [sizes, setSizes] = useState<{ image: Size; shown: Size } | null>(null);
  useEffect(() => {
    const img = ref.current;
    if (img === null) return;
    const measure = (): void => {
      if (img.naturalWidth > 0) setSizes({ image: { width: img.naturalWidth, height: img.naturalHeight }, shown: { width: img.clientWidth, height: img.clientHeight } });
    };
    const observer = new ResizeObserver(measure);
    observer.observe(img);
    img.addEventListener('load', measure);
    measure();
    return () => {
      observer.disconnect();
      img.removeEventListener('load', measure);
    };
  }, [src]);
  const kept = boxes.filter((b) => b.score >= minScore).length;
  const drawn = sizes ? overlayBoxes(boxes, sizes.image, sizes.shown, minScore) : [];
  return (
    <>
      <div className="boxed">
        <img ref={ref} src={src} alt={`${name} with ${kept} box${kept === 1 ? '' : 'es'}`} />
        {sizes && (
          <svg className="overlay" width={sizes.shown.width} height={sizes.shown.height} viewBox={`0 0 ${sizes.shown.width} ${sizes.shown.height}`} aria-hidden="true" data-testid="overlay">
            {drawn.map((b, i) => {
              const tabW = b.text.length * FONT * 0.62 + 6;
              // The tab sits above the box, or inside its top when the box touches the image's top.
              const tabY = b.y >= TAB_H ? b.y - TAB_H : b.y;
              return (
                <g key={i} className="det" data-class={b.class} data-score={b.score}>
                  <rect className="det-box" x={b.x} y={b.y} width={b.width} height={b.height} fill="none" stroke={b.colour} strokeWidth={2} />
                  <rect x={b.x} y={tabY} width={tabW} height={TAB_H} fill={b.colour} />
                  <text x={b.x + 3} y={tabY + FONT} fontSize={FONT} fill={b.ink}>{b.text}</text>
                </g>
              );
            })}
          </svg>
        )}
      </div>
      <p className="box-count" data-testid="box-count">
        {kept} of {boxes.length} box{boxes.length === 1 ? '' : 'es'} score {minScore.toFixed(2)} or more
        {kept > 0 ? ':' : '.'}
      </p>
      {kept > 0 && (
        <ol className="box-list">
          {boxes.filter((b) => b.score >= minScore).sort((a, b) => b.score - a.score).map((b, i) => (
            <li key={i}>
              <strong>{b.label}</strong> {b.score.toFixed(2)} <span className="where">at {b.box.map((v) => Math.round(v)).join(', ')}</span>
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
