import type { IncomingMessage, ServerResponse } from 'http';

/**
 * A `node:http` request handler that serves the Prometheus text `render()` makes on each GET (HEAD:
 * the headers alone; any other method: 405). As with prom-client, the context renders and the
 * caller serves: any path, any server.
 */
export function metricsHandler(render: () => string): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('the Prometheus text is read with GET\n');
      return;
    }
    const text = render();
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
}
