/**
 * A minimal PNG line chart, no dependency: an RGB raster, lines drawn
 * with Bresenham (2 px thick), encoded by cli/png.ts.
 *
 * `lineChartPng(panels)` stacks the panels vertically; each has its own
 * y range (0 .. the largest value × 1.1) and shares the x range of its
 * series. Grey vertical lines mark the quarters (the soak's summary
 * gives quarter medians; its verdict is the slope of quarters 3–4), grey
 * horizontal lines the y quarters. There is no text (no font): each series
 * is drawn in its fixed colour, and the soak's summary and README name the
 * colours and the scales.
 */
import { encodePng } from '../cli/png.ts'

export type Rgb = readonly [number, number, number]
export type Series = { color: Rgb; points: readonly (readonly [number, number])[] }
export type Panel = { series: readonly Series[] }

const WIDTH = 900
const PANEL_HEIGHT = 300
const MARGIN = 20
const GRID: Rgb = [220, 220, 220]
const AXIS: Rgb = [60, 60, 60]

class Raster {
  readonly rgb: Uint8Array
  constructor(readonly width: number, readonly height: number) {
    this.rgb = new Uint8Array(width * height * 3).fill(255)
  }
  dot(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return
    this.rgb.set(c, (y * this.width + x) * 3)
  }
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thick = 1): void {
    ;[x0, y0, x1, y1] = [x0, y0, x1, y1].map(Math.round) as [number, number, number, number]
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0)
    const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
    let err = dx + dy
    for (;;) {
      for (let t = 0; t < thick; t++) (dx >= -dy ? this.dot(x0, y0 + t, c) : this.dot(x0 + t, y0, c))
      if (x0 === x1 && y0 === y1) return
      const e2 = 2 * err
      if (e2 >= dy) (err += dy), (x0 += sx)
      if (e2 <= dx) (err += dx), (y0 += sy)
    }
  }
}

function drawPanel(r: Raster, panel: Panel, top: number): void {
  const [left, right, bottom] = [MARGIN, WIDTH - MARGIN, top + PANEL_HEIGHT - MARGIN]
  const ptop = top + MARGIN
  const all = panel.series.flatMap((s) => s.points)
  const xMin = Math.min(...all.map((p) => p[0])), xMax = Math.max(...all.map((p) => p[0]))
  const yMax = Math.max(1e-9, ...all.map((p) => p[1])) * 1.1
  const px = (x: number): number => left + ((x - xMin) / Math.max(1e-9, xMax - xMin)) * (right - left)
  const py = (y: number): number => bottom - (y / yMax) * (bottom - ptop)
  for (let q = 1; q < 4; q++) {
    r.line(left + (q * (right - left)) / 4, ptop, left + (q * (right - left)) / 4, bottom, GRID)
    r.line(left, ptop + (q * (bottom - ptop)) / 4, right, ptop + (q * (bottom - ptop)) / 4, GRID)
  }
  r.line(left, bottom, right, bottom, AXIS)
  r.line(left, ptop, left, bottom, AXIS)
  for (const s of panel.series) {
    for (let i = 1; i < s.points.length; i++) {
      const [a, b] = [s.points[i - 1]!, s.points[i]!]
      r.line(px(a[0]), py(a[1]), px(b[0]), py(b[1]), s.color, 2)
    }
  }
}

/** The panels stacked top to bottom, WIDTH × (PANEL_HEIGHT × panels) px. */
export function lineChartPng(panels: readonly Panel[]): Buffer {
  const r = new Raster(WIDTH, PANEL_HEIGHT * panels.length)
  panels.forEach((panel, i) => drawPanel(r, panel, i * PANEL_HEIGHT))
  return encodePng(r.rgb, r.width, r.height)
}
