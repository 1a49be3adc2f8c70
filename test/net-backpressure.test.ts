// Backpressure over the network: behind a receiver throttled to a few MB/s, the sender's buffers and reads stay bounded.

import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeSyntheticVmcore } from './helpers/synthetic-vmcore.js';
import { runShell } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { rssOf, startThrottledRelay } from './helpers/throttled-relay.js';
import { assertSameFile, feed, startReceiverProcess, startSender } from './helpers/receiver-process.js';
import { MAX_DATA_PAYLOAD } from '../src/net/protocol.js';
import { DEFAULT_CHUNK_SIZE, POOLED_CHUNKS } from '../src/pipeline/capture.js';

const MiB = 1 << 20;
const DUMP_BYTES = 64 * MiB;
const RATE = 8 * MiB;
const FEED_PIECE = 256 * 1024;
const SAMPLE_MS = 100;
/** The sink's own queue: its Writable (1 MiB high-water mark plus the chunk that crossed it) and the socket's (one frame). */
const SINK_BOUND = MiB + DEFAULT_CHUNK_SIZE + MAX_DATA_PAYLOAD + 64 * 1024;
/**
 * What the sender may hold between its stdin and its socket: the pipe (64 KiB) and its read buffers, which come from
 * capture.ts's pool of POOLED_CHUNKS chunks and return to it once the sink reports them written (DumpSink.onWritten);
 * the rest is sampling slack.
 */
const USER_LEAD_BOUND = POOLED_CHUNKS * DEFAULT_CHUNK_SIZE + 2 * MiB;
/** Node itself takes about 50 MiB; the garbage collector returns memory late, so RSS says little below this. */
const RSS_PEAK_BOUND = 128 * MiB;

/** Bytes the kernel holds on the way through the relay: the sender's send queue and the relay's receive queue. */
async function kernelQueued(relayPort: number): Promise<number> {
  let total = 0;
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || fields[3] !== '01') continue;
    const localPort = parseInt(fields[1].split(':')[1], 16);
    const remotePort = parseInt(fields[2].split(':')[1], 16);
    const [tx, rx] = fields[4].split(':').map((q) => parseInt(q, 16));
    if (remotePort === relayPort) total += tx;
    else if (localPort === relayPort) total += rx;
  }
  return total;
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

test('a receiver throttled to 8 MiB/s: the sender reads only as fast as it sends, its buffers stay under a fixed bound', async (t) => {
  const dir = await tempDir(t, 'net-bp');
  const dump = makeSyntheticVmcore({ segments: [{ paddr: 0x100000n, size: DUMP_BYTES / 2 }, { paddr: 0x10000000n, size: DUMP_BYTES / 2 }] });
  const input = path.join(dir, 'in.elf');
  await writeFile(input, dump.bytes);
  const expected = path.join(dir, 'expected.elf');
  const local = await runShell('cat "$1" | $CLI - --mode full --no-klog --no-sync -o "$2"', [input, expected]);
  t.is(local.code, 0, local.stderr);
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, 'backpressure');
  const dumps = path.join(dir, 'dumps');
  const receiver = await startReceiverProcess(t, dumps, ['--token-file', tokenFile]);
  const relay = await startThrottledRelay(receiver.port, RATE);
  t.teardown(() => relay.close());

  const started = Date.now();
  const sender = startSender(t, ['-', '--mode', 'full', '--no-klog', '-o', `tcp://127.0.0.1:${relay.port}`, '--token-file', tokenFile, '--name', 'slow'], { SLIMCORE_NET_STATS: '1' });
  let fed = 0;
  const samples: { ms: number; fed: number; forwarded: number; kernel: number; rss?: number }[] = [];
  const sampler = setInterval(() => {
    const at = { ms: Date.now() - started, fed, forwarded: relay.forwarded() };
    void Promise.all([rssOf(sender.child.pid!), kernelQueued(relay.port)]).then(([rss, kernel]) => samples.push({ ...at, kernel, rss }));
  }, SAMPLE_MS);
  for (let at = 0; at < dump.bytes.length; at += FEED_PIECE) {
    await feed(sender.child.stdin, dump.bytes.subarray(at, at + FEED_PIECE));
    fed = Math.min(at + FEED_PIECE, dump.bytes.length);
  }
  sender.child.stdin.end();
  const result = await sender.exited;
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  t.is(result.code, 0, result.stderr);
  await assertSameFile(t, path.join(dumps, 'slow'), expected);

  const stats = /at most (\d+) bytes buffered in the sink/.exec(result.stderr);
  t.truthy(stats, result.stderr);
  const sinkMax = Number(stats![1]);
  const lead = Math.max(...samples.map((s) => s.fed - s.forwarded));
  const userLead = Math.max(...samples.map((s) => s.fed - s.forwarded - s.kernel));
  const kernelMax = Math.max(...samples.map((s) => s.kernel));
  const rss = samples.map((s) => s.rss).filter((r): r is number => r !== undefined);
  const halfway = samples.find((s) => s.ms >= (DUMP_BYTES / RATE) * 500)!;
  t.log(`dump ${mib(dump.bytes.length)} through a relay at ${mib(RATE)}/s: ${seconds.toFixed(1)} s (at least ${(DUMP_BYTES / RATE).toFixed(1)} s)`);
  t.log(`sink's queue + socket buffer, most ever: ${mib(sinkMax)} (bound ${mib(SINK_BOUND)}; frames of at most ${mib(MAX_DATA_PAYLOAD)})`);
  t.log(`input read ahead of what reached the relay, most ever: ${mib(lead)}; of it in kernel socket queues at most ${mib(kernelMax)} (tcp_wmem/tcp_rmem autotuning)`);
  t.log(`input read ahead, less the kernel's socket queues (the sender's pipe, pipeline and sink), most ever: ${mib(userLead)} (bound ${mib(USER_LEAD_BOUND)})`);
  t.log(`at ${(halfway.ms / 1000).toFixed(1)} s: ${mib(halfway.fed)} of ${mib(dump.bytes.length)} read, ${mib(halfway.forwarded)} passed the relay`);
  t.log(`sender RSS: ${mib(rss[0])} at the first sample, ${mib(Math.max(...rss))} at most (bound ${mib(RSS_PEAK_BOUND)}); ${samples.length} samples every ${SAMPLE_MS} ms`);
  t.true(seconds >= (DUMP_BYTES / RATE) * 0.9, 'the relay held the transfer back');
  t.true(sinkMax <= SINK_BOUND, `sink buffered ${sinkMax} bytes`);
  t.true(userLead <= USER_LEAD_BOUND, `read ${userLead} bytes ahead`);
  t.true(Math.max(...rss) <= RSS_PEAK_BOUND, `RSS reached ${Math.max(...rss)} bytes`);
});
