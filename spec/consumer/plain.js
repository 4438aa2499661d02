// procstat from plain JavaScript on Node 20, which has no decorator syntax: the decorators are
// functions, applied by hand the way TypeScript's experimentalDecorators applies them.
// spec/package.spec.ts runs this file in an app that installed the packed package.
const { Counter, Gauge, Parameter, procstat, Series, Stat, StatDir } = require('procstat');

class Worker {
  jobsDone = 0;
  concurrency = 4;
  latency = new Series();
  queue = [];
  get queueDepth() {
    return this.queue.length;
  }
}
// A field decorator takes the prototype and the property name (fields and getters alike) …
Counter()(Worker.prototype, 'jobsDone');
Parameter({ min: 1, max: 64 })(Worker.prototype, 'concurrency');
Stat()(Worker.prototype, 'latency');
Gauge()(Worker.prototype, 'queueDepth');
// … then @StatDir takes the class and returns the one to use: its instances register themselves.
const ExposedWorker = StatDir({ name: 'worker' })(Worker);

const worker = new ExposedWorker();
worker.jobsDone += 5;
worker.queue.push('a', 'b');
worker.latency.addPoint(3);
console.log(procstat.metrics());

// A field decorator applied after @StatDir would never show: it throws, saying so.
const Late = StatDir()(class Late {});
try {
  Counter()(Late.prototype, 'hits');
} catch (err) {
  console.log(err.message);
}
