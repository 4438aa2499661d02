import { DirNode } from './nodes';
import { Reader } from './reader';

/**
 * What the views that serve a context (the mount, the snapshot writer) see of it: a root to walk,
 * the one way to read and write its files, and a way to bring nested instances up to date. Kept
 * this narrow so that a view knows nothing of decorators, the registry or the Procstat class.
 */
export interface ContextView {
  readonly root: DirNode;
  readonly reader: Reader;
  /**
   * One refresh round of the nesting: reads the next bounded share of the fields that hold `@StatDir`
   * objects again, so that a moved object is shown where it is now within a bounded number of rounds
   * (nesting.ts).
   */
  refreshNesting(): void;
}
