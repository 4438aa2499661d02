import * as http from 'http';
import { AddressInfo } from 'net';
import { Counter, Gauge, Histogram, procstat, Series, Stat, StatDir } from '../src';

/** Serves every stat in the Prometheus text format, for a Prometheus server to scrape. */
const metrics = procstat.metricsHandler();
import { LruCache } from './cache';
import { WorkerPool } from './worker-pool';

@StatDir({ key: 'route' })
export class RouteStats {
  @Counter() requests = 0;
  @Counter() errors = 0;
  @Stat() latency = new Series();
  constructor(readonly route: string) {}
}

/** An HTTP API on 127.0.0.1 whose routes use a cache and the worker pool. */
@StatDir({ name: 'http', key: 'name' })
export class HttpService {
  @Counter() requests = 0;
  @Counter() errors = 0;
  @Gauge() get connections() { return this.openConnections; }
  @Gauge() port = 0;
  @Stat() latency = new Histogram([0.5, 0.9, 0.99]);
  @Stat() routes = new Map<string, RouteStats>();
  private openConnections = 0;
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  constructor(readonly name: string, private readonly users: LruCache<string>, private readonly pool: WorkerPool) {
    this.server.on('connection', (socket) => {
      this.openConnections++;
      socket.on('close', () => this.openConnections--);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = (this.server.address() as AddressInfo).port;
      resolve(this.port);
    }));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private routeOf(req: http.IncomingMessage): string {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path.startsWith('/users/')) return 'GET /users/:id';
    return `${req.method} ${path}`;
  }

  private stats(route: string): RouteStats {
    let stats = this.routes.get(route);
    if (!stats) this.routes.set(route, (stats = new RouteStats(route)));
    return stats;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const route = this.routeOf(req);
    const stats = this.stats(route);
    this.requests++;
    stats.requests++;
    let status = 200;
    let body = '';
    if (route === 'GET /users/:id') {
      const id = req.url!.split('/')[2];
      body = this.users.get(id) ?? `user-${id}`;
      this.users.set(id, body);
    } else if (route === 'POST /jobs') {
      const accepted = this.pool.submit(() => new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 100)));
      status = accepted ? 202 : 503;
    } else if (route === 'GET /health') {
      body = 'ok';
    } else if (route === 'GET /metrics') {
      metrics(req, res);
      return;
    } else {
      status = 404;
    }
    if (status >= 400) {
      this.errors++;
      stats.errors++;
    }
    res.writeHead(status).end(body);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    this.latency.addPoint(ms);
    stats.latency.addPoint(ms);
  }
}
