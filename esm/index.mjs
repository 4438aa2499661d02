// The ESM entry: the CommonJS build's exports under their own names, so that `import { procstat }
// from 'procstat'` and `require('procstat')` share one module instance, hence one default context
// that decorated classes register with. spec/package.spec.ts checks that these names are exactly
// the CommonJS exports.
import cjs from '../dist/src/index.js';

export const {
  Procstat, procstat, ProcstatError,
  Series, Histogram, StartEnd, DirNode, FileNode,
  StatDir, Stat, Counter, Gauge, Parameter,
  registerWithPromClient,
} = cjs;
