// Counts the addon's reads still in flight, so that the input is closed only once they are done.

/**
 * Why: io_uring looks a read's descriptor up when the read is issued, which may be after the call that submitted it.
 * A failed capture closed its input while reads were still queued; the number was reused (a pipe, an eventfd) and the
 * reads waited on that for good, and process.exit(), which joins libuv's thread pool, with them. Seen on Linux 6.18:
 * an ELF32 layout refused (exit 3) with 400 faults hung 9 times in 80; never with SLIMCORE_NO_IO_URING=1, never among
 * 50 captures that succeeded. One count for the process: a command reads one input.
 */
let inFlight = 0;
const settled: (() => void)[] = [];

/** Wraps one of the addon's asynchronous calls so that it is counted while it runs. */
export function counted<A extends unknown[], R>(call: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args: A) => {
    inFlight++;
    return call(...args).finally(() => {
      if (--inFlight === 0) for (const wake of settled.splice(0)) wake();
    });
  };
}

/** Resolves once no addon read is in flight, or after `limitMs` whatever is left. */
export function nativeReadsSettled(limitMs: number): Promise<void> {
  if (inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, limitMs);
    settled.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
