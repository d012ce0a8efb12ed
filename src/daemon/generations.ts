/**
 * The one home of a data generation's life, as nginx keeps a configuration's in one `ngx_cycle_t` and the old ones
 * in `ngx_old_cycles` until their connections drain:
 *
 *   loading ──► staged ──► current ──► retired ──► dropped
 *      │           │  (swap line read)      (last job naming it ended)
 *      │           └──► dropped (the daemon stopped before the swap line was read, or it could not be written)
 *      └──► held ──► staged (`roq swap`) / discarded (`roq reload --drop-held`, a newer hold)
 *
 * A generation is *live* — open in every worker — from staged to dropped; a held one is complete and valid but
 * opened nowhere, so a held generation costs its memory and nothing else. Each job counts on the generation it
 * names from the moment its line is read until it ends, so a retired generation is dropped exactly when the
 * last job naming it ends. The registry is plain state: it says what to open and drop, it opens and drops nothing.
 */
import type { GenerationData } from '../store/types.js';

export type Stage = 'staged' | 'current' | 'retired';

interface Entry {
  generation: GenerationData;
  stage: Stage;
  /** Jobs queued or running that name it. */
  jobs: number;
}

export class Generations {
  private readonly live = new Map<number, Entry>();
  private currentEntry: Entry | undefined;
  private heldGeneration: GenerationData | undefined;
  private next: number;

  /** `firstId`: a daemon taking over continues its predecessor's numbering (from its status.json). */
  constructor(firstId = 1) {
    this.next = firstId;
  }

  /** The id of the next generation to load. */
  newId(): number {
    return this.next++;
  }

  current(): GenerationData {
    if (!this.currentEntry) throw new Error('no generation serves yet');
    return this.currentEntry.generation;
  }

  hasCurrent(): boolean {
    return this.currentEntry !== undefined;
  }

  stageOf(id: number): Stage | 'held' | undefined {
    if (this.heldGeneration?.id === id) return 'held';
    return this.live.get(id)?.stage;
  }

  /** The generations open in the workers, which a worker starting now must open too. */
  liveGenerations(): GenerationData[] {
    return [...this.live.values()].map((e) => e.generation);
  }

  /** Jobs naming generation `id`. */
  jobsOn(id: number): number {
    return this.live.get(id)?.jobs ?? 0;
  }

  /** A generation to open in the workers, before any job names it. */
  stage(g: GenerationData): void {
    this.live.set(g.id, { generation: g, stage: 'staged', jobs: 0 });
  }

  /**
   * Makes a staged generation current (its swap line was read, or it is the first). Returns the id of the one it
   * replaced if that can be dropped at once (no job names it).
   */
  makeCurrent(id: number): number | undefined {
    const entry = this.live.get(id);
    if (!entry) throw new Error(`generation ${id} was not staged`);
    const old = this.currentEntry;
    entry.stage = 'current';
    this.currentEntry = entry;
    if (!old) return undefined;
    old.stage = 'retired';
    return this.dropIfDrained(old);
  }

  /** A job names the current generation; returns its id. */
  use(): number {
    const entry = this.currentEntry!;
    entry.jobs++;
    return entry.generation.id;
  }

  /** A job naming `id` ended (or was never queued). Returns `id` if the generation can now be dropped. */
  release(id: number): number | undefined {
    const entry = this.live.get(id);
    if (!entry) return undefined;
    entry.jobs--;
    return this.dropIfDrained(entry);
  }

  /** A staged generation that will never serve; returns its id if it was live. */
  abandon(id: number): number | undefined {
    const entry = this.live.get(id);
    if (!entry || entry.stage !== 'staged') return undefined;
    this.live.delete(id);
    return id;
  }

  /** Keeps a loaded generation without opening it anywhere; returns the one held before, now discarded. */
  hold(g: GenerationData): GenerationData | undefined {
    const before = this.heldGeneration;
    this.heldGeneration = g;
    return before;
  }

  held(): GenerationData | undefined {
    return this.heldGeneration;
  }

  /** Lets go of the held generation (to stage it, or to discard it). */
  takeHeld(): GenerationData | undefined {
    const g = this.heldGeneration;
    this.heldGeneration = undefined;
    return g;
  }

  private dropIfDrained(entry: Entry): number | undefined {
    if (entry.stage !== 'retired' || entry.jobs > 0) return undefined;
    this.live.delete(entry.generation.id);
    return entry.generation.id;
  }
}
