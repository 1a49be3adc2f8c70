// A compression worker that fails on its first batch: SLIMCORE_FAIL_AS=exit stops the thread, =codec answers with a codec error.

import { parentPort } from 'node:worker_threads';

parentPort.postMessage({ kind: 'ready' });
parentPort.on('message', (request) => {
  if (process.env.SLIMCORE_FAIL_AS === 'codec') parentPort.postMessage({ kind: 'failed', id: request.id, message: 'deflate: insufficient memory' });
  else process.exit(7);
});
