// The example service: an HTTP API with per-route stats, a worker pool whose `concurrency`
// parameter changes how many jobs run, and LRU caches, moved by built-in load.
// Run: npm run example [-- --duration SECONDS]
import * as http from 'http';
import { procstat } from '../src';
import { LruCache } from './cache';
import { HttpService } from './http-service';
import { WorkerPool } from './worker-pool';

function request(port: number, method: string, path: string): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => resolve());
    req.end();
  });
}

/** Built-in load: about 100 requests a second, 30 of them jobs (more than 2 workers can finish). */
function startLoad(apiPort: number, adminPort: number): NodeJS.Timeout {
  let tick = 0;
  return setInterval(() => {
    tick++;
    void request(apiPort, 'GET', `/users/${Math.floor(Math.random() * 300)}`);
    if (tick % 3 === 0) void request(apiPort, 'POST', '/jobs');
    if (tick % 10 === 0) void request(apiPort, 'GET', '/missing');
    if (tick % 20 === 0) void request(adminPort, 'GET', '/health');
  }, 10);
}

async function main(): Promise<void> {
  const durationAt = process.argv.indexOf('--duration');
  const seconds = durationAt > 0 ? Number(process.argv[durationAt + 1]) : Infinity;

  const pool = new WorkerPool();
  const users = new LruCache<string>('users', 200);
  const sessions = new LruCache<string>('sessions', 50);
  const api = new HttpService('api', users, pool);
  const admin = new HttpService('admin', sessions, pool);
  const [apiPort, adminPort] = [await api.listen(), await admin.listen()];

  procstat.collectDefaultMetrics();
  // Where FUSE is unavailable (many containers), write the same files every second instead.
  await procstat.mount(undefined, { fallback: 'snapshot' });
  const mnt = procstat.mountpoint;
  console.log(`procstat example: API on 127.0.0.1:${apiPort}, admin on 127.0.0.1:${adminPort}`);
  console.log(`mounted at ${mnt}; try, from another shell:`);
  console.log(`  ls ${mnt} ${mnt}/http/api/routes`);
  console.log(`  grep -r . ${mnt}/http/api/routes`);
  console.log(`  cat ${mnt}/jobs/running ${mnt}/jobs/queued`);
  console.log(`  echo 8 > ${mnt}/jobs/concurrency      # then cat running again`);
  console.log(`  echo 20 > ${mnt}/cache/users/capacity`);
  console.log(`  watch -n1 cat ${mnt}/http/api/requests ${mnt}/jobs/completed`);
  console.log(`  curl -s http://127.0.0.1:${adminPort}/metrics      # the same, for Prometheus`);
  console.log('Ctrl-C stops.');

  const load = startLoad(apiPort, adminPort);
  const stop = async () => {
    clearInterval(load);
    await Promise.all([api.close(), admin.close()]);
    await procstat.unmount();
    console.log('stopped; mount removed');
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (Number.isFinite(seconds)) setTimeout(stop, seconds * 1000);
}

main().catch((err) => {
  console.error(`procstat example: ${err.message}`);
  process.exit(1);
});
