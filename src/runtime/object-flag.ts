/**
 * A yes/no mark kept on an object itself, under a symbol of the flag's own (non-enumerable, so it
 * shows nowhere), or in a WeakSet for an object that cannot take one (frozen, sealed). On the object
 * rather than in a WeakSet: V8 never shrinks a long-lived WeakSet's table after its keys die, so
 * marking 100,000 objects through one would keep megabytes for good.
 */
export class ObjectFlag {
  private readonly symbol: symbol;
  private readonly frozen = new WeakSet<object>();

  constructor(description: string) {
    this.symbol = Symbol(description);
  }

  has(obj: object): boolean {
    return (obj as Record<symbol, unknown>)[this.symbol] === true || this.frozen.has(obj);
  }

  set(obj: object): void {
    if (this.has(obj)) return;
    if (Object.isExtensible(obj)) Object.defineProperty(obj, this.symbol, { value: true });
    else this.frozen.add(obj);
  }
}
