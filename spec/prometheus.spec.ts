// The Prometheus view, default process metrics, and a real Prometheus server scraping the example.
import { expect } from 'chai';
import { execFile, spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { Registry } from 'prom-client';
import { Counter, Gauge, Histogram, Procstat, procstat, registerWithPromClient, Series, Stat, StatDir } from '../src';
import { leftoverMounts, mountTemp, tempPath } from './helpers/mounts';
import { shOk } from './helpers/shell';

@StatDir({ name: 'api', key: 'port' })
class Api {
  @Counter() requests = 3;
  @Counter('bytesOut') bytes = 12n;
  @Gauge() get connections() { return 2; }
  @Stat() healthy = true;
  @Stat() version = 'v1.2';
  @Stat() latency = new Histogram([0.5, 0.99]);
  @Stat() queue = new Series();
  @Stat() routes = new Map([['GET /users', new RouteHits()]]);
  constructor(readonly port: number) {}
}

@StatDir({ key: 'name' })
class RouteHits {
  @Counter() hits = 7;
  name = '';
}

function promtool(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
      resolve({ code: err ? (err as any).code ?? 1 : 0, output: stdout + stderr }));
    child.stdin!.end(text);
  });
}

describe('Prometheus view', () => {
  const made: object[] = [];
  afterEach(() => { for (const obj of made.splice(0)) procstat.release(obj); });

  it('maps classes to prefixes, keys to labels, counters to _total, series and histograms to summaries', () => {
    const api = new Api(8080);
    made.push(api);
    for (let i = 1; i <= 100; i++) api.latency.addPoint(i);
    api.queue.addPoint(4);
    const text = procstat.metrics();
    expect(text).to.include('# TYPE api_requests_total counter\napi_requests_total{api="8080"} 3\n');
    expect(text).to.include('api_bytes_out_total{api="8080"} 12\n');
    expect(text).to.include('# TYPE api_connections gauge\napi_connections{api="8080"} 2\n');
    expect(text).to.include('api_healthy{api="8080"} 1\n');
    expect(text).to.include('api_version_info{api="8080",value="v1.2"} 1\n');
    expect(text).to.include('# TYPE api_latency summary\n');
    expect(text).to.match(/api_latency\{api="8080",quantile="0.5"\} 50\.\d+\n/);
    expect(text).to.include('api_latency_sum{api="8080"} 5050\napi_latency_count{api="8080"} 100\n');
    expect(text).to.include('api_queue_sum{api="8080"} 4\napi_queue_count{api="8080"} 1\n');
    expect(text).to.include('api_routes_hits_total{api="8080",routes="GET__users"} 7\n');
  });

  it('label names are snake_case like metric names: the instances of a class RouteHits are labelled route_hits', async () => {
    const route = new RouteHits(); // its key, read when the constructor finishes, is '' → '_'
    made.push(route);
    const ctx = new Procstat();
    ctx.registry.register(route);
    const text = ctx.metrics();
    expect(text).to.include('route_hits_hits_total{route_hits="_"} 7\n');
    const result = await promtool(text);
    expect(result.output).to.equal('');
  });

  it('a directory named like a label of its own or of the format gets a numbered label, never a label twice', async () => {
    const ctx = new Procstat();
    @StatDir({ context: ctx, name: 'value' })
    class Value { @Gauge() text = 'hello'; }
    @StatDir({ context: ctx, name: 'quantile' })
    class Quantile { @Stat() latency = new Histogram([0.5]); @Stat() queue = new Series(); }
    @StatDir({ context: ctx, name: 'tree' })
    class Tree { @Counter() hits = 1; @Stat() kids = new Map<string, Tree>(); }
    const root = new Tree();
    const kid = new Tree();
    kid.kids.set('g', new Tree());
    root.kids.set('k', kid);
    const keep = [new Value(), new Quantile(), root];
    const text = ctx.metrics();
    expect(text).to.include('value_text_info{value_2="0",value="hello"} 1\n');
    expect(text).to.include('quantile_latency{quantile_2="0",quantile="0.5"} 0\n')
      .and.include('quantile_latency_sum{quantile_2="0"} 0\nquantile_latency_count{quantile_2="0"} 0\n')
      .and.include('quantile_queue_min{quantile_2="0"}');
    expect(text).to.include('tree_kids_kids_hits_total{tree="0",kids="k",kids_2="g"} 1\n');
    expect((await promtool(text)).output).to.equal('');
    for (const obj of keep) ctx.release(obj);
  });

  it('a counter named …_total gets its unit before _total, once', async () => {
    const ctx = new Procstat();
    ctx.createValue(null, 'busy_seconds_total', () => 3, { metric: 'counter', unit: 'seconds' });
    ctx.createValue(null, 'sent_total', () => 4, { metric: 'counter', unit: 'bytes' });
    const text = ctx.metrics();
    expect(text).to.include('\nbusy_seconds_total 3\n').and.include('\nsent_bytes_total 4\n');
    expect((await promtool(text)).output).to.equal('');
  });

  it('promtool check metrics accepts the output, default process metrics included', async () => {
    const ctx = new Procstat();
    ctx.collectDefaultMetrics();
    const dir = ctx.createDirectory(null, 'server');
    ctx.createValue(dir, 'requests', () => 5, { metric: 'counter' });
    ctx.createValue(dir, 'name', () => 'web "1"\nsecond line');
    ctx.createHistogram(dir, 'sizes', [0.5, 0.9]).addPoint(3);
    made.push(new Api(9090));
    for (const text of [ctx.metrics(), procstat.metrics()]) {
      const result = await promtool(text);
      expect(result.output).to.equal('');
      expect(result.code).to.equal(0);
    }
    expect(ctx.metrics()).to.match(/^process_cpu_user_seconds_total \d/m).and.match(/^process_memory_rss_bytes \d+$/m);
  });

  it('collectDefaultMetrics() adds process/ with the usual process metrics', async () => {
    const ctx = new Procstat();
    ctx.collectDefaultMetrics();
    const mnt = await mountTemp(ctx);
    const files = (await shOk(`cd ${mnt}/process && find . -type f | sort`)).trim().split('\n');
    expect(files).to.include.members([
      './uptime_seconds', './cpu_user_seconds', './cpu_system_seconds', './open_fds', './max_fds',
      './memory/rss_bytes', './memory/heap_used_bytes', './memory/heap_total_bytes', './memory/external_bytes',
      './memory/array_buffers_bytes', './event_loop/delay_p99_seconds', './event_loop/utilization',
      './gc/major/collections', './gc/minor/seconds',
    ]);
    expect(files.some((f) => f.startsWith('./active_resources/'))).to.equal(true);
    expect(Number(await shOk(`cat ${mnt}/process/memory/rss_bytes`))).to.be.above(10_000_000);
    expect(Number(await shOk(`cat ${mnt}/process/open_fds`))).to.be.above(3);
  });

  it('metricsHandler() serves the text over node:http', async () => {
    made.push(new Api(7070));
    const server = http.createServer(procstat.metricsHandler()).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
      expect(await response.text()).to.include('api_requests_total{api="7070"} 3');
      const head = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' });
      expect([head.status, await head.text()]).to.deep.equal([200, '']);
      const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' });
      expect([post.status, post.headers.get('allow')]).to.deep.equal([405, 'GET, HEAD']);
    } finally {
      server.close();
    }
  });

  it('registerWithPromClient adds the tree to an existing prom-client Registry', async () => {
    const registry = new Registry();
    const ctx = new Procstat();
    let requests = 1;
    ctx.createValue(ctx.createDirectory(null, 'svc'), 'requests', () => requests, { metric: 'counter' });
    registerWithPromClient(ctx, registry);
    requests = 41;
    const text = await registry.metrics();
    expect(text).to.include('# TYPE svc_requests_total counter\nsvc_requests_total 41');
    expect((await promtool(text)).code).to.equal(0);
    // A scrape right after another sees what changed in between.
    requests = 42;
    const first = await registry.metrics();
    requests = 43;
    const second = await registry.metrics();
    expect([first, second].map((scrape) => /svc_requests_total (\d+)/.exec(scrape)![1])).to.deep.equal(['42', '43']);
  });
});

describe('a real Prometheus server scrapes the example app', () => {
  it('and answers a query for its request counter', async function () {
    this.timeout(60_000);
    const mnt = tempPath('prom-example');
    const example = spawn(process.execPath, [path.join(__dirname, '..', 'example-app', 'main.js'), '--duration', '30'],
      { env: { ...process.env, PROCSTAT_MOUNT: mnt } });
    let out = '';
    example.stdout.on('data', (chunk) => { out += chunk; });
    const dataDir = tempPath('prom-data');
    let prometheus: ReturnType<typeof spawn> | undefined;
    try {
      for (let i = 0; i < 100 && !/admin on 127\.0\.0\.1:\d+/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      const adminPort = out.match(/admin on 127\.0\.0\.1:(\d+)/)![1];
      await fs.mkdir(dataDir);
      const config = path.join(dataDir, 'prometheus.yml');
      await fs.writeFile(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: example\n    static_configs:\n      - targets: ['127.0.0.1:${adminPort}']\n`);
      const promPort = 19090 + Math.floor(Math.random() * 500);
      prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${dataDir}/tsdb`,
        `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
      let result: any[] = [];
      for (let i = 0; i < 60 && result.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=http_requests_total`).catch(() => null);
        if (response?.ok) result = ((await response.json()) as any).data.result;
      }
      const api = result.find((r) => r.metric.http === 'api');
      expect(api, JSON.stringify(result)).to.not.equal(undefined);
      expect(Number(api.value[1])).to.be.above(0);
    } finally {
      prometheus?.kill('SIGKILL');
      example.kill('SIGTERM');
      await new Promise((resolve) => (example.exitCode !== null || example.signalCode !== null ? resolve(null) : example.on('exit', resolve)));
    }
    expect(leftoverMounts()).to.not.include(mnt);
  });
});
