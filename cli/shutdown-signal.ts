/**
 * The wait every long-running service command ends with: resolves on the
 * first SIGINT or SIGTERM.
 *
 * Call it BEFORE printing the "listening on" line. A supervisor (`atfed dev`,
 * a test, a crash harness) may send SIGTERM as soon as it reads that line;
 * with no listener yet, Node applies the signal's default action and the
 * process dies by the signal instead of closing its database and exiting 0.
 */
import { once } from 'node:events'

export function shutdownSignal(): Promise<unknown> {
  return Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
}
