// The C library's getting-started, in TypeScript: a context, single values, a hierarchy,
// a parameter, a series and a histogram, moved by a little built-in load.
import { procstat } from '../src';

let requests = 0;
let delayMs = 5;

const server = procstat.createDirectory(null, 'server');
procstat.createValue(server, 'requests', () => requests);
procstat.createParameter(server, 'delay_ms', { get: () => delayMs, set: (v: number) => { delayMs = v; }, min: 0, max: 1000 });
const latency = procstat.createSeries(server, 'latency');
const sizes = procstat.createHistogram(server, 'sizes', [0.5, 0.9, 0.99]);
procstat.createAggregator(null, 'all');

function tick(): void {
  requests++;
  latency.addPoint(delayMs + Math.random());
  sizes.addPoint(Math.round(100 + Math.random() * 900));
}

async function main(): Promise<void> {
  const durationArg = process.argv.indexOf('--duration');
  const seconds = durationArg > 0 ? Number(process.argv[durationArg + 1]) : Infinity;
  await procstat.mount();
  const mnt = procstat.mountpoint;
  console.log(`procstat mounted at ${mnt}\ntry:\n  grep -r . ${mnt}\n  echo 50 > ${mnt}/server/delay_ms\n  cat ${mnt}/all`);
  const load = setInterval(tick, 10);
  const stop = async () => {
    clearInterval(load);
    await procstat.unmount();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  if (Number.isFinite(seconds)) setTimeout(stop, seconds * 1000);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
