/**
 * A progress display on stderr: `label [#####-----] 5/10 1.2 MiB`.
 *
 * On a terminal it is a cli-progress SingleBar (redrawn in place, at most
 * once per PROGRESS_REDRAW_MS_MIN). Elsewhere (a log file, a pipe, a test)
 * a redraw would be noise and cli-progress prints nothing, so one plain
 * line is written each time another tenth is done — at most
 * PROGRESS_LOG_LINES_MAX lines — plus the final one. Lines are at most
 * LINE_CHARS_MAX characters.
 */
import cliProgress from 'cli-progress'
import { PROGRESS_LOG_LINES_MAX, PROGRESS_REDRAW_MS_MIN } from '../../core/limits.ts'

const BAR_CHARS = 20
const LINE_CHARS_MAX = 100

/** Where the display goes: process.stderr, or anything with `write` (tests). */
export type ProgressSink = { write(text: string): unknown; isTTY?: boolean }

export type ProgressOptions = { label: string; total: number; sink?: ProgressSink }

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

export class ProgressLine {
  readonly #label: string
  readonly #total: number
  readonly #sink: ProgressSink
  readonly #bar: cliProgress.SingleBar | null
  #done = 0
  #bytes = 0
  #lastTenth = 0

  constructor(opts: ProgressOptions) {
    this.#label = opts.label.slice(0, LINE_CHARS_MAX / 2)
    this.#total = opts.total
    this.#sink = opts.sink ?? process.stderr
    this.#bar = this.#sink.isTTY === true ? this.#startBar() : null
  }

  #startBar(): cliProgress.SingleBar {
    const bar = new cliProgress.SingleBar({
      stream: this.#sink as NodeJS.WritableStream,
      format: `${this.#label} [{bar}] {value}/{total} {bytes}`,
      barsize: BAR_CHARS,
      barCompleteChar: '#',
      barIncompleteChar: '-',
      fps: 1000 / PROGRESS_REDRAW_MS_MIN,
      linewrap: false,
    })
    bar.start(this.#total, 0, { bytes: '' })
    return bar
  }

  #render(): string {
    const ratio = this.#total <= 0 ? 1 : Math.min(1, this.#done / this.#total)
    const filled = Math.round(ratio * BAR_CHARS)
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_CHARS - filled)}]`
    const line = `${this.#label} ${bar} ${this.#done}/${this.#total}${this.#bytes > 0 ? ` ${formatBytes(this.#bytes)}` : ''}`
    return line.slice(0, LINE_CHARS_MAX)
  }

  /** `count` more items done, `bytes` more transferred. */
  add(count = 1, bytes = 0): void {
    this.#done += count
    this.#bytes += bytes
    if (this.#bar !== null) {
      this.#bar.update(this.#done, { bytes: formatBytes(this.#bytes) })
      return
    }
    const tenth = this.#total <= 0 ? PROGRESS_LOG_LINES_MAX : Math.floor((this.#done / this.#total) * PROGRESS_LOG_LINES_MAX)
    if (tenth > this.#lastTenth && this.#done < this.#total) {
      this.#lastTenth = tenth
      this.#sink.write(`${this.#render()}\n`)
    }
  }

  finish(): void {
    if (this.#bar !== null) this.#bar.stop()
    else this.#sink.write(`${this.#render()}\n`)
  }
}
