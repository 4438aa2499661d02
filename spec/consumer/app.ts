// A small app that uses procstat as a user would. spec/package.spec.ts installs the packed package
// into a fresh app, compiles this file with `strict: true` in both decorator modes (as app.ts with
// experimentalDecorators, as app.mts with TC39 decorators) and runs it; mistakes.ts beside it holds
// what must not compile.
import { Counter, Gauge, Histogram, Parameter, procstat, ProcstatError, Series, Stat, StatDir } from 'procstat';

@StatDir({ name: 'http', key: 'port' })
class HttpServer {
  @Counter() requests = 0;
  @Counter('bytes-out') bytesOut = 0n;
  @Parameter({ min: 1, max: 64 }) maxConnections = 16;
  @Stat() latency = new Series();
  @Stat() sizes = new Histogram([0.5, 0.99]);
  @Gauge() get busy(): boolean {
    return this.requests > 0;
  }
  @Gauge() accessor connections = 0;
  @Counter() private errors = 0;
  constructor(readonly port: number) {}
  fail(): void {
    this.errors++;
  }
}

@StatDir({ key: (w: Worker) => w.id })
class Worker {
  @Counter() jobsDone = 0;
  constructor(readonly id: string) {}
}

const server = new HttpServer(8080);
server.requests += 3;
server.bytesOut += 10n;
server.connections = 2;
server.latency.addPoint(2);
server.latency.addPoint(4);
server.sizes.addPoint(100);
server.fail();
new Worker('a').jobsDone++;

try {
  procstat.createValue(null, 'bad%name', () => 1);
} catch (err) {
  if (err instanceof ProcstatError) console.log(`error ${err.code}`);
}
console.log(procstat.metrics());
