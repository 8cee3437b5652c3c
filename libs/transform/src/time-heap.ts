/**
 * A binary min-heap of (time, id) entries, ordered by time: the eviction queue of the
 * deduplicator. Parallel arrays keep it free of per-entry objects.
 */
export class TimeHeap {
  private readonly times: number[] = [];
  private readonly ids: string[] = [];

  get size(): number {
    return this.times.length;
  }

  /** The smallest time, or `undefined` when empty. */
  peekTime(): number | undefined {
    return this.times[0];
  }

  push(time: number, id: string): void {
    const times = this.times;
    const ids = this.ids;
    let i = times.length;
    times.push(time);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent] <= time) break;
      times[i] = times[parent];
      ids[i] = ids[parent];
      i = parent;
    }
    times[i] = time;
    ids[i] = id;
  }

  /** Removes the entry with the smallest time and returns its id (the heap must not be empty). */
  popId(): string {
    const times = this.times;
    const ids = this.ids;
    const top = ids[0];
    const lastTime = times.pop() as number;
    const lastId = ids.pop() as string;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && times[right] < times[left] ? right : left;
        if (times[child] >= lastTime) break;
        times[i] = times[child];
        ids[i] = ids[child];
        i = child;
      }
      times[i] = lastTime;
      ids[i] = lastId;
    }
    return top;
  }
}
