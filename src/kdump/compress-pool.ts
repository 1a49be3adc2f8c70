// A pool of worker threads that pack batches of pages, so that compression runs on every core beside the reads and writes.

import { defaultThreads, MAX_THREADS } from './choices.js';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IoError, UsageError } from '../errors.js';
import { COMPRESSION_FLAGS, loadCodecs, type CompressionName } from './compress.js';
import { batchPacker, takeBatch, type PackedBatch, type PackJob, type PageCompressor } from './page-pack.js';

export interface WorkerSetup {
  method: CompressionName;
}

export interface WorkerRequest {
  id: number;
  job: PackJob;
  /** For shared buffers: 0 until a thread takes the batch; the worker or the calling thread, whichever sets it first, packs it. */
  claim?: Int32Array;
}

export type WorkerReply =
  | { kind: 'ready' }
  | { kind: 'unavailable'; message: string }
  | { kind: 'packed'; id: number; packed: PackedBatch }
  | { kind: 'taken'; id: number }
  | { kind: 'failed'; id: number; message: string };

export interface PoolOptions {
  method: CompressionName;
  /** Worker threads, at least 1. */
  threads: number;
  /** The worker's script (default: SLIMCORE_COMPRESS_WORKER, a path, else compress-worker): tests give one that fails. */
  workerUrl?: URL;
}

export { defaultThreads, MAX_THREADS };

// Small heaps: a worker holds one batch at a time, and every MiB of heap it keeps counts against the capture's RSS.
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 32 };

function spawn(url: URL, workerData: WorkerSetup): Worker {
  // Run from source by tsx (tests), the worker is TypeScript too, and worker threads do not inherit tsx's hooks.
  if (url.pathname.endsWith('.ts')) {
    const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
    return new Worker(boot, { eval: true, workerData, resourceLimits: RESOURCE_LIMITS });
  }
  return new Worker(url, { workerData, resourceLimits: RESOURCE_LIMITS });
}

interface Waiting {
  resolve: (packed: PackedBatch) => void;
  reject: (err: Error) => void;
  /** Set for a batch of shared buffers, which the calling thread may take. */
  shared?: { job: PackJob; claim: Int32Array };
}

const isShared = (job: PackJob): boolean => job.pages instanceof SharedArrayBuffer && job.out instanceof SharedArrayBuffer;

/**
 * Batches a worker holds at once: the one it packs and the next, so that it never waits for the main thread, which may
 * be packing a batch of its own when the worker finishes one.
 */
const WORKER_DEPTH = 2;

/**
 * Starts the workers and loads the codec here; a codec that cannot load is a usage error, as inline. A batch goes to
 * the least busy ready worker; until a worker is ready, and whenever every one holds WORKER_DEPTH batches, the calling
 * thread packs the batch itself rather than wait for the pool (the bytes are the same).
 */
export async function workerCompressor(options: PoolOptions): Promise<PageCompressor & { ready: Promise<void> }> {
  const { method } = options;
  const { threads } = options;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) throw new UsageError(`--threads ${threads} is not in 1..${MAX_THREADS}`);
  const override = process.env.SLIMCORE_COMPRESS_WORKER;
  const url = options.workerUrl ?? (override ? pathToFileURL(override) : new URL(`./compress-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
  const workers: Worker[] = [];
  // Batches each worker holds, by index in `workers`; a worker that is not ready yet holds "all it can".
  const held: number[] = [];
  const waiting = new Map<number, Waiting>();
  let nextId = 0;
  let closing = false;
  let broken: Error | undefined;

  const leastBusy = (): number => {
    let best = -1;
    for (let n = 0; n < workers.length; n++) if (held[n] < WORKER_DEPTH && (best < 0 || held[n] < held[best])) best = n;
    return best;
  };
  const breakPool = (err: Error) => {
    if (closing || broken) return;
    broken = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };

  const started: Promise<void>[] = [];
  for (let n = 0; n < threads; n++) {
    const worker = spawn(url, { method });
    workers.push(worker);
    held.push(WORKER_DEPTH);
    started.push(
      new Promise<void>((resolve, reject) => {
        const stopped = (err: Error) => {
          reject(err);
          breakPool(err);
        };
        worker.on('message', (message: WorkerReply) => {
          if (message.kind === 'ready') {
            held[n] = 0;
            resolve();
          } else if (message.kind === 'unavailable') {
            stopped(new UsageError(`--compress ${method}: ${message.message}`));
          } else {
            const w = waiting.get(message.id);
            waiting.delete(message.id);
            if (message.kind === 'packed') w?.resolve(message.packed);
            else if (message.kind === 'failed') w?.reject(new IoError(`compressing pages with ${method} in worker ${n + 1}: ${message.message}`));
            held[n]--;
          }
        });
        const stop = (why: string) => stopped(new IoError(`compression worker ${n + 1} of ${threads} stopped: ${why}`));
        worker.on('error', (err) => stop(err.message.split('\n')[0]));
        worker.on('exit', (code) => stop(`exit code ${code}`));
      }),
    );
  }
  const ready = Promise.all(started).then(() => undefined);
  // A worker that fails to start breaks the pool: the next batch says so.
  ready.catch(() => undefined);
  const closeAll = async () => {
    closing = true;
    await Promise.all(workers.map((w) => w.terminate()));
  };
  let packHere: (job: PackJob) => PackedBatch;
  const packed = (job: PackJob): Promise<PackedBatch> => {
    try {
      return Promise.resolve(packHere(job));
    } catch (err) {
      return Promise.reject(new IoError(`compressing pages with ${method}: ${(err as Error).message}`));
    }
  };
  try {
    await loadCodecs([method]);
    packHere = batchPacker(method);
  } catch (err) {
    await closeAll();
    throw err;
  }
  return {
    name: method,
    flag: COMPRESSION_FLAGS[method],
    /** Every worker has its codec; batches packed before then are packed here. */
    ready,
    pack(job) {
      if (broken) return Promise.reject(broken);
      const n = leastBusy();
      if (n < 0) return packed(job);
      const id = nextId++;
      const shared = isShared(job) ? { job, claim: new Int32Array(new SharedArrayBuffer(4)) } : undefined;
      const done = new Promise<PackedBatch>((resolve, reject) => waiting.set(id, { resolve, reject, shared }));
      held[n]++;
      const request: WorkerRequest = { id, job, claim: shared?.claim };
      workers[n].postMessage(request, shared ? [] : [job.pages as ArrayBuffer, job.out as ArrayBuffer]);
      return done;
    },
    packWaiting() {
      if (broken) return false;
      for (const [id, w] of waiting) {
        if (!w.shared || !takeBatch(w.shared.claim)) continue;
        // The worker, when it comes to this batch, answers 'taken'; it counts as held until then.
        waiting.delete(id);
        packed(w.shared.job).then(w.resolve, w.reject);
        return true;
      }
      return false;
    },
    close: closeAll,
  };
}
