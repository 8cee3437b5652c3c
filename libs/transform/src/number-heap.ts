/**
 * A binary min-heap of numbers: the distinct expiries the deduplicator evicts by, smallest first.
 */
export class NumberHeap {
  private readonly values: number[] = [];

  get size(): number {
    return this.values.length;
  }

  /** The smallest value, or `undefined` when empty. */
  peek(): number | undefined {
    return this.values[0];
  }

  push(value: number): void {
    const values = this.values;
    let i = values.length;
    values.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (values[parent] <= value) break;
      values[i] = values[parent];
      i = parent;
    }
    values[i] = value;
  }

  /** Removes and returns the smallest value (the heap must not be empty). */
  pop(): number {
    const values = this.values;
    const top = values[0];
    const last = values.pop() as number;
    const n = values.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && values[right] < values[left] ? right : left;
        if (values[child] >= last) break;
        values[i] = values[child];
        i = child;
      }
      values[i] = last;
    }
    return top;
  }
}
