/**
 * A small, valid PNG (8-bit RGB, cli/png.ts's encoder) so blob tests upload
 * a real image. `seed` varies the pixels, so different seeds give different
 * CIDs.
 */
import { encodePng } from '../../cli/png.ts'

export function makePng(options: { width?: number; height?: number; seed?: number } = {}): Uint8Array {
  const width = options.width ?? 8
  const height = options.height ?? 8
  const seed = options.seed ?? 1
  const rgb = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width * 3; x++) rgb[y * width * 3 + x] = (x * 31 + y * 17 + seed * 101) & 0xff
  }
  return new Uint8Array(encodePng(rgb, width, height))
}
