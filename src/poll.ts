/**
 * The one way roq waits for something that gives no event: look, and look again a little later, within a bound.
 * Every such wait (a lock let go, a successor's PID, a process gone, a server up) is bounded in time, so a wait
 * that can never end says so instead of hanging.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Calls `probe` every `everyMs` until it returns something other than undefined (resolved with it), or until
 * Date.now() passes `deadline` (resolved with undefined). `probe` is called at least once.
 */
export async function pollUntil<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  everyMs: number,
  deadline: number,
): Promise<T | undefined> {
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}
