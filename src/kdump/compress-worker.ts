// A compression worker thread: packs the batches the pool sends it, and sends them back with their buffers.

import { parentPort, workerData } from 'node:worker_threads';
import { loadCodecs } from './compress.js';
import { batchPacker, type BatchPacker } from './page-pack.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './compress-pool.js';

const port = parentPort!;
const setup = workerData as WorkerSetup;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
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
    const { id, job } = request;
    try {
      const packed = packer(job);
      reply({ kind: 'packed', id, packed }, [packed.pages, packed.out, packed.sizes.buffer as ArrayBuffer]);
    } catch (err) {
      reply({ kind: 'failed', id, message: (err as Error).message });
    }
  });
}
