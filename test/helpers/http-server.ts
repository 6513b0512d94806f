/**
 * A throwaway HTTP server on 127.0.0.1 for tests, driven by one handler.
 * `close()` also cuts open connections, so handlers that never finish (the
 * slow-server cases) do not keep the test process alive.
 */
import http from 'node:http'

export type TestHttpServer = {
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  /** Requests seen, as `METHOD path`. */
  readonly requests: string[]
  /** TCP connections accepted so far. */
  readonly connections: () => number
  close(): Promise<void>
}

export async function startHttpServer(handler: http.RequestListener): Promise<TestHttpServer> {
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    handler(req, res)
  })
  let connections = 0
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return {
    port: address.port,
    origin: `http://127.0.0.1:${address.port}`,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
