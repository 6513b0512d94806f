/**
 * The byte-transfer progress of `atfed car export|import`, on stderr, drawn
 * by cli-progress:
 *   - size known (import: the file; export: when the PDS sends
 *     Content-Length): `label [=====-----] 42% | 1.2/2.9 MiB | 3.1 MiB/s`;
 *   - size unknown (a streamed getRepo): `label 1.2 MiB | 3.1 MiB/s`.
 * On a terminal the line is redrawn in place; elsewhere (a pipe, a log, a
 * test) cli-progress writes one line every TRANSFER_LOG_EVERY_MS and one
 * at the end. `finish` always ends with a summary line.
 */
import cliProgress from 'cli-progress'
import { PROGRESS_REDRAW_MS_MIN } from '../core/limits.ts'
import { formatBytes } from './recovery/progress.ts'

const TRANSFER_LOG_EVERY_MS = 2_000
const BAR_CHARS = 24

export class TransferProgress {
  readonly #bar: cliProgress.SingleBar
  readonly #label: string
  readonly #totalBytes: number | null
  readonly #startedMs = Date.now()
  #bytes = 0

  constructor(label: string, totalBytes: number | null, stream: NodeJS.WritableStream = process.stderr) {
    this.#label = label
    this.#totalBytes = totalBytes
    const sized = totalBytes !== null && totalBytes > 0
    this.#bar = new cliProgress.SingleBar({
      stream,
      format: sized ? `${label} [{bar}] {percentage}% | {done}/{size} | {speed}` : `${label} {done} | {speed}`,
      barsize: BAR_CHARS,
      fps: 1000 / PROGRESS_REDRAW_MS_MIN,
      noTTYOutput: true,
      notTTYSchedule: TRANSFER_LOG_EVERY_MS,
      hideCursor: false,
      clearOnComplete: true, // the summary line of finish() replaces the bar
      gracefulExit: false,
      linewrap: false,
    })
    this.#bar.start(sized ? totalBytes : 1, 0, this.#payload())
  }

  #payload(): { done: string; size: string; speed: string } {
    const seconds = Math.max(0.001, (Date.now() - this.#startedMs) / 1000)
    return { done: formatBytes(this.#bytes), size: formatBytes(this.#totalBytes ?? 0), speed: `${formatBytes(Math.round(this.#bytes / seconds))}/s` }
  }

  add(bytes: number): void {
    this.#bytes += bytes
    const value = this.#totalBytes !== null && this.#totalBytes > 0 ? Math.min(this.#bytes, this.#totalBytes) : 0
    this.#bar.update(value, this.#payload())
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Stops the bar and writes `label: done, N bytes in S s` (or `failed`). */
  finish(ok: boolean, stream: NodeJS.WritableStream = process.stderr): void {
    this.#bar.stop()
    const seconds = ((Date.now() - this.#startedMs) / 1000).toFixed(1)
    stream.write(`${this.#label}: ${ok ? 'done' : 'failed'}, ${formatBytes(this.#bytes)} (${this.#bytes} bytes) in ${seconds} s\n`)
  }
}
