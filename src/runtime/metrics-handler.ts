import type { IncomingMessage, ServerResponse } from 'http';

/**
 * A `node:http` request handler that serves the Prometheus text `render()` makes on each request.
 * As with prom-client, the context renders and the caller serves: any path, any server.
 */
export function metricsHandler(render: () => string): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(render());
  };
}
