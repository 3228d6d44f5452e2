/**
 * The key that labels an image with each class, for the labelling page. When every class name is
 * one character (digits 0–9, letters), the key is the name: with classes 0–9, 7 must mean "7", not
 * the 7th class ("6"). Otherwise 1–9 then 0 pick the first ten classes in order.
 *
 * @example
 * classKeys(['0', '1', '2']); // ['0', '1', '2']
 * classKeys(['cat', 'dog']);  // ['1', '2']
 */
export function classKeys(classes: readonly string[]): (string | null)[] {
  // Code points, so a one-letter name outside the BMP still counts as one key.
  if (classes.length > 0 && classes.every((c) => [...c].length === 1)) return [...classes];
  return classes.map((_, i) => (i < 9 ? String(i + 1) : i === 9 ? '0' : null));
}
