// A service that gets stuck, for README "When the service is stuck": it mounts, serves for a
// while, then blocks its event loop for 4 s in a synchronous checksum (as a service does that hashes a
// big upload on the main thread), then runs on. node dist/example-app/stuck.js
import { createHash } from 'crypto';
import { Counter, procstat, StatDir } from '../src';

@StatDir({ singleton: true })
class Uploads {
  @Counter({ help: 'uploads checksummed', unit: 'files' }) checksummed = 0;
}

const uploads = new Uploads();

/** Hashes `buffer` again and again for `ms`: the event loop is blocked all that time. */
function checksumUpload(buffer: Buffer, ms: number): string {
  const end = Date.now() + ms;
  let digest = '';
  while (Date.now() < end) digest = createHash('sha256').update(buffer).update(digest).digest('hex');
  uploads.checksummed++;
  return digest;
}

async function main(): Promise<void> {
  await procstat.mount();
  console.log(`mounted at ${procstat.mountpoint}; in 5 s the event loop is blocked for 4 s`);
  setTimeout(() => {
    console.log('checksumming an upload on the main thread…');
    checksumUpload(Buffer.alloc(64 * 1024, 1), 4000);
    console.log('done; the loop runs again (Ctrl-C stops)');
  }, 5000);
  setInterval(() => undefined, 1000);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
