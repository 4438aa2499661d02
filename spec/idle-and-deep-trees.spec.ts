// Issue 22: reading must not cost the app. A mount keeps its tree true (which instance is nested
// where) by a bounded share of work per refresh round, not by reading every holder each 100 ms; and a
// decorated linked list 20,000 long is walked by find to its end.
import { expect } from 'chai';
import { Counter, Procstat, Stat, StatDir } from '../src';
import { ClassDir } from '../src/runtime/class-dir';
import { InstanceDir } from '../src/runtime/instance-dir';
import { DirNode } from '../src/runtime/nodes';
import { mountTemp, tempPath } from './helpers/mounts';
import { sh } from './helpers/shell';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const listCtx = new Procstat();

@StatDir({ name: 'linked-node', context: listCtx })
class ListNode {
  @Stat() n: number;
  @Stat() next: ListNode | null = null;
  constructor(n: number) {
    this.n = n;
  }
}

const idleCtx = new Procstat();

@StatDir({ name: 'idle-holder', context: idleCtx })
class Holder {
  @Stat() items: unknown[];
  constructor(items: unknown[]) {
    this.items = items;
  }
}

@StatDir({ name: 'idle-thing', context: idleCtx })
class Thing {
  @Counter() hits = 0;
}

describe('an idle mount, and deep trees', () => {
  it('removed looks at a deep tree\'s directories once between removals, not once per node, and stays true to the tree', () => {
    let looks = 0;
    class Counted extends DirNode {
      protected override get gone(): boolean {
        looks++;
        return super.gone;
      }
    }
    const root = new Counted('root');
    const chain: DirNode[] = [];
    for (let i = 0, dir: DirNode = root; i < 3000; i++) chain.push(dir = dir.add(new Counted('d')));
    const [deepest, middle] = [chain[2999], chain[1499]];
    expect(deepest.removed).to.equal(false);
    expect(looks, 'the first time: every directory up to the root').to.equal(3001);
    looks = 0;
    const files = Array.from({ length: 100 }, (_, i) => deepest.add(new Counted(`f${i}`)));
    expect(files.every((file) => !file.removed) && !chain[2000].removed && !deepest.removed).to.equal(true);
    expect(looks, 'then each node itself, and its directory').to.be.at.most(2 * 100 + 2);
    chain[1498].delete(middle);
    expect(deepest.removed, 'below the removed one').to.equal(true);
    expect(chain[2000].removed).to.equal(true);
    expect(chain[1498].removed, 'above it').to.equal(false);
    expect(chain[0].removed).to.equal(false);
  });

  it('find walks a decorated linked list 20,000 long to its end, every level, without an error', async function () {
    this.timeout(300_000);
    const length = 20_000;
    const head = new ListNode(0);
    let tail = head;
    for (let n = 1; n < length; n++) tail = tail.next = new ListNode(n);
    const mnt = await mountTemp(listCtx);
    const errors = tempPath('find-errors');
    // Depth and name of every entry (full paths would be gigabytes); the first errors, cut short.
    const walk = await sh(`find ${mnt}/linked-node -printf '%d %y %f\\n' 2>${errors}; code=$?; cut -c1-200 ${errors} | head -5 >&2; exit $code`);
    expect(walk.stderr, 'find reports no error').to.equal('');
    expect(walk.code, 'find exits 0').to.equal(0);
    const lines = walk.stdout.split('\n').filter(Boolean);
    // The class directory; per node its directory, its n file, and next (the next node's directory,
    // or for the last node an empty file).
    expect(lines.length).to.equal(1 + 3 * length - (length - 1));
    const deepest = lines.filter((line) => line.startsWith(`${length + 1} `)).sort();
    expect(deepest).to.deep.equal([`${length + 1} f n`, `${length + 1} f next`]);
    // Every level has one directory: the class directory, then each node's.
    const dirDepths = lines.filter((line) => line.split(' ')[1] === 'd').map((line) => Number(line.split(' ')[0]));
    expect(dirDepths.sort((a, b) => a - b)).to.deep.equal(Array.from({ length: length + 1 }, (_, depth) => depth));
    const last = await sh(`find ${mnt}/linked-node -mindepth ${length + 1} -name n -execdir cat {} +`);
    expect(last.stdout + last.stderr, 'the last node, read where find found it').to.equal(`${length - 1}\n`);
    // The chain lives through `head`: used last, so that the collector cannot take the list (and its
    // directories) while find walks it.
    expect([head.n, tail.n]).to.deep.equal([0, length - 1]);
  });

  it('an idle mount reads at most 5,000 of 100,000 holders per turn, and an instance put into one\'s array is nested within ⌈100,000 / 1,000⌉ rounds', async function () {
    this.timeout(120_000);
    const count = 100_000;
    // Each holder's array counts the reads of its one number, by event-loop turn: a refresh round is one turn.
    const turns: number[] = [];
    let turnOpen = false;
    let nestedAtTurn = -1;
    let onTurnEnd = () => undefined as void;
    const counting = (): unknown[] => {
      const items: unknown[] = [];
      Object.defineProperty(items, 0, {
        enumerable: true,
        configurable: true,
        get() {
          if (!turnOpen) {
            turnOpen = true;
            turns.push(0);
            queueMicrotask(() => { turnOpen = false; onTurnEnd(); });
          }
          turns[turns.length - 1]++;
          return 1;
        },
      });
      return items;
    };
    const holders = Array.from({ length: count }, () => new Holder(counting()));
    const thing = new Thing();
    const things = idleCtx.tree.root.child('idle-thing') as ClassDir;
    const thingKey = things.names().find((key) => (things.child(key) as InstanceDir).ref.deref() === thing)!;
    await mountTemp(idleCtx);
    await sleep(0);
    turns.length = 0;
    while (turns.length < 5) await sleep(50);
    const perTurn = [...turns];
    expect(Math.max(...perTurn), `holders read per turn: ${perTurn.join(', ')}`).to.be.at.most(5000);
    expect(Math.min(...perTurn)).to.be.at.least(1);

    // About the one the rounds read last (they go through the holders in the order they were made):
    // it is read again after a whole pass.
    const target = holders[(perTurn.reduce((sum, n) => sum + n, 0) - 1) % count];
    const pushedAt = turns.length;
    // things.child() looks the key up without reading any holder (a listing would read them all).
    onTurnEnd = () => { if (nestedAtTurn < 0 && things.child(thingKey) === undefined) nestedAtTurn = turns.length; };
    target.items.push(thing);
    while (nestedAtTurn < 0 && turns.length - pushedAt <= 200) await sleep(50);
    expect(nestedAtTurn, 'nested at all').to.be.above(0);
    expect(nestedAtTurn - pushedAt, 'rounds until it is nested').to.be.at.most(Math.ceil(count / 1000));
    const key = String(holders.indexOf(target));
    const shown = idleCtx.lookup(null, `idle-holder/${key}/items/1`);
    expect(shown).to.be.instanceOf(InstanceDir);
    expect((shown as InstanceDir).ref.deref()).to.equal(thing);
    expect(holders.length + thing.hits).to.equal(count);
  });
});
