// A compression worker thread: packs the batches the pool sends it, and sends them back with their buffers.

import { parentPort, workerData } from 'node:worker_threads';
import { loadCodecs } from './compress.js';
import { batchPacker, takeBatch, type BatchPacker } from './page-pack.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './compress-pool.js';

const port = parentPort!;
const setup = workerData as WorkerSetup;

function reply(message: WorkerReply, transfer: Array<ArrayBuffer | SharedArrayBuffer> = []): void {
  // Shared buffers go back shared; plain ones are transferred.
  port.postMessage(message, transfer.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer));
}

let pack: BatchPacker | undefined;
try {
  await loadCodecs([setup.method]);
  pack = batchPacker(setup.method);
  reply({ kind: 'ready' });
} catch (err) {
  reply({ kind: 'unavailable', message: (err as Error).message });
}

if (pack) {
  const packer = pack;
  port.on('message', (request: WorkerRequest) => {
    const { id, job, claim } = request;
    if (claim && !takeBatch(claim)) {
      reply({ kind: 'taken', id });
      return;
    }
    try {
      const packed = packer(job);
      reply({ kind: 'packed', id, packed }, [packed.pages, packed.out, packed.sizes.buffer]);
    } catch (err) {
      reply({ kind: 'failed', id, message: (err as Error).message });
    }
  });
}
