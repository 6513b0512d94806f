/**
 * The demo image `atfed dev --seed` posts: a small PNG drawn in code (no
 * asset file), an 8-bit RGB gradient with a diagonal stripe.
 */
import { encodePng } from './png.ts'

/** A `size`×`size` PNG (default 64). */
export function demoPng(size = 64): Uint8Array {
  const rgb = new Uint8Array(size * size * 3)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const at = 3 * (y * size + x)
      const stripe = Math.abs(x - y) < size / 8
      rgb[at] = stripe ? 255 : Math.floor((255 * x) / size)
      rgb[at + 1] = stripe ? 255 : Math.floor((255 * y) / size)
      rgb[at + 2] = stripe ? 255 : 160
    }
  }
  return new Uint8Array(encodePng(rgb, size, size))
}
