/**
 * A k-way merge of sorted cursors: a binary min-heap by `compare` of each cursor's current item. A query
 * merging many sorted runs (two dozen, say, for one key on one day of dense data) would, by scanning every cursor
 * for the next row, pay a comparison per cursor per row; the heap pays about log2 of that.
 *
 * Protocol: top() is the cursor holding the smallest item (undefined when all are exhausted); the caller consumes
 * that item by advancing the cursor's pos, then calls advanced() before the next top().
 */
export interface MergeCursor {
  pos: number;
  end: number;
}

export function cursorHeap<C extends MergeCursor>(cursors: readonly C[], compare: (a: C, b: C) => number) {
  const heap = cursors.filter((c) => c.pos < c.end);
  const siftDown = (i: number): void => {
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && compare(heap[r]!, heap[l]!) < 0 ? r : l;
      if (compare(heap[child]!, item) >= 0) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);
  return {
    top: (): C | undefined => heap[0],
    advanced(): void {
      const c = heap[0]!;
      if (c.pos >= c.end) {
        const last = heap.pop()!;
        if (heap.length === 0) return;
        heap[0] = last;
      }
      siftDown(0);
    },
  };
}
