/**
 * An <img> for a same-origin API path. Without a saved token it is a plain <img>; with one, the
 * bytes are fetched with the Authorization header (an <img> cannot send it) and shown from a blob.
 */
import { useEffect, useState, type ImgHTMLAttributes } from 'react';
import { request, savedToken } from '../api';

export function AuthImg({ src, ...rest }: ImgHTMLAttributes<HTMLImageElement> & { src: string }) {
  const [url, setUrl] = useState<string | undefined>(savedToken() ? undefined : src);
  useEffect(() => {
    if (!savedToken()) {
      setUrl(src);
      return;
    }
    let live = true;
    let made: string | null = null;
    request(src)
      .then((r) => r.blob())
      .then((b) => {
        made = URL.createObjectURL(b);
        if (live) setUrl(made);
      })
      .catch(() => undefined);
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [src]);
  return <img src={url} {...rest} />;
}

/** Downloads an API path as a file (with the token when one is saved). */
export async function download(path: string, name: string): Promise<void> {
  const blob = await (await request(path)).blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
