// Corrupt rings and incomplete VMCOREINFO: a clear BadInputError naming what is wrong, never a hang or a crash.

import test from 'ava';
import fc from 'fast-check';
import { BadInputError } from '../src/errors.js';
import { formatDmesg } from '../src/klog/dmesg-format.js';
import { readKernelLog } from '../src/klog/kernel-log.js';
import {
  buildLogBufPlain, buildLogBufRecords, buildPrintkRingbuffer, I386, X86_64,
  type Arch, type SyntheticKlog,
} from './helpers/synthetic-klog.js';

const read = (k: SyntheticKlog) => readKernelLog(k.memory, k.vmcoreinfo, k.addressMap, k.arch.endian, k.arch.wordSize);

const records = Array.from({ length: 12 }, (_, i) => ({ ts: BigInt(i) * 1_000_000n, text: `record ${i} ${'.'.repeat(i * 3)}` }));

function ring(arch: Arch = X86_64): SyntheticKlog {
  return buildPrintkRingbuffer(arch, { countBits: 4, sizeBits: 10, firstLpos: 1024n * 5n + 600n, records });
}
function logBuf(arch: Arch = X86_64): SyntheticKlog {
  return buildLogBufRecords(arch, { bufLen: 512, startIdx: 300, records: records.slice(0, 8) });
}
function plain(arch: Arch = X86_64): SyntheticKlog {
  return buildLogBufPlain(arch, { bufLen: 256, text: records.map((r) => `<6>${r.text}\n`).join('') });
}

const le32 = (v: number) => Uint8Array.from([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);
const le64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
};
function patch(k: SyntheticKlog, region: string, offset: number, bytes: Uint8Array): SyntheticKlog {
  return k.patched([{ vaddr: k.region(region).vaddr + BigInt(offset), bytes }]);
}
function fails(t: import('ava').ExecutionContext, k: SyntheticKlog, message: RegExp): void {
  const err = t.throws(() => read(k), { instanceOf: BadInputError, message });
  t.regex(err?.message ?? '', /^kernel log: /);
  t.notRegex(err?.message ?? '', /\n/);
}

test('lockless ring: a huge count_bits or size_bits is refused before anything is read', (t) => {
  fails(t, patch(ring(), 'printk_ringbuffer', 0, le32(40)), /count_bits 40 gives a ring over the 268435456-byte cap/);
  fails(t, patch(ring(), 'printk_ringbuffer', 48, le32(31)), /size_bits 31 gives a ring over/);
});

test('lockless ring: head_id and tail_id further apart than the ring, or with state bits, are refused', (t) => {
  fails(t, patch(ring(), 'printk_ringbuffer', 24, le64(1000n)), /tail_id 0x0 and head_id 0x3e8 are 1000 descriptors apart, but the ring holds 16/);
  fails(t, patch(ring(), 'printk_ringbuffer', 24, le64(3n << 62n)), /head_id 0xc000000000000000 or tail_id 0x0 has state bits set/);
});

test('lockless ring: a text block longer than the ring, or too short for its id, loses that record only', (t) => {
  const k = ring();
  const begin = k.memory.read(k.addressMap.toPhysical(k.region('descs').vaddr + 8n)!, 8)!.readBigUInt64LE(0);
  const others = records.slice(1).map((r) => r.text);
  for (const next of [begin + 5000n, begin + 4n, 0n]) {
    const log = read(patch(k, 'descs', 16, le64(next)));
    t.deepEqual(log.records.map((r) => r.text), others, `next ${next}`);
    t.is(log.skippedRecords, 1);
  }
});

test('lockless ring: pointers to memory the dump lacks are named', (t) => {
  fails(t, patch(ring(), 'prb', 0, le64(0xffffffffa0000000n)), /cannot locate struct printk_ringbuffer at vaddr 0xffffffffa0000000/);
  const k = ring();
  const staticEnd = k.phdrs[0].vaddr + k.phdrs[0].memsz;
  fails(t, patch(k, 'printk_ringbuffer', 8, le64(staticEnd - 8n)), /cannot read the 16 prb_desc descriptors: 384 bytes at vaddr 0x\w+ \(paddr 0x\w+\) are not all in the dump/);
});

test('log_buf records: bad indexes, lengths and sizes are refused', (t) => {
  fails(t, patch(logBuf(), 'log_buf_len', 0, le32(0x7fffffff)), /log_buf_len 2147483647 is outside 1\.\.268435456/);
  fails(t, patch(logBuf(), 'log_first_idx', 0, le32(512)), /log_first_idx 512 or log_next_idx \d+ is past the 512-byte log_buf/);
  // The record at 300 says its text runs to 16 + 60000 bytes.
  fails(t, patch(logBuf(), 'log_buf', 300 + 10, Uint8Array.of(0x60, 0xea)), /record at index 300 .*: text_len 60000 runs past the end of the 512-byte log_buf/);
  fails(t, patch(logBuf(), 'log_buf', 300 + 8, Uint8Array.of(8, 0)), /record at index 300 .*: len 8 does not hold its 16-byte header/);
});

test('log_buf records: a ring that never reaches log_next_idx stops with an error', (t) => {
  // A zero len at index 0 would send vmcore-dmesg round the ring for ever.
  fails(t, patch(logBuf(), 'log_buf', 8, Uint8Array.of(0, 0)), /a second wrap marker before reaching log_next_idx|walked past log_next_idx/);
  fails(t, patch(logBuf(), 'log_next_idx', 0, le32(2)), /walked past log_next_idx 2 without meeting it/);
});

test('plain log_buf: a zero or negative log_buf_len is refused', (t) => {
  fails(t, patch(plain(), 'log_buf_len', 0, le32(0)), /log_buf_len 0 is outside/);
  fails(t, patch(plain(), 'log_buf_len', 0, le32(0xffffffff)), /log_buf_len -1 is outside/);
});

test('a dump without VMCOREINFO, or without any log symbol, cannot locate the log', (t) => {
  fails(t, ring().withVmcoreinfo(new Map()), /^kernel log: cannot locate the log: the dump has no VMCOREINFO note$/);
  const noSymbols = new Map([...ring().vmcoreinfo].filter(([k]) => !k.startsWith('SYMBOL(')));
  fails(t, ring().withVmcoreinfo(noSymbols), /^kernel log: cannot locate the log: VMCOREINFO has none of SYMBOL\(prb\)/);
});

test('missing VMCOREINFO entries are all named in one line', (t) => {
  const without = (k: SyntheticKlog, ...keys: string[]) => k.withVmcoreinfo(new Map([...k.vmcoreinfo].filter(([key]) => !keys.includes(key))));
  fails(t, without(ring(), 'OFFSET(prb_desc.state_var)', 'SIZE(printk_info)'),
    /^kernel log: cannot locate the printk ring buffer \(SYMBOL\(prb\)\): VMCOREINFO lacks OFFSET\(prb_desc.state_var\), SIZE\(printk_info\)$/);
  fails(t, without(logBuf(), 'SYMBOL(log_next_idx)', 'SIZE(printk_log)'), /^kernel log: cannot locate the log_buf records .*: VMCOREINFO lacks SYMBOL\(log_next_idx\)$/);
  fails(t, without(logBuf(), 'SIZE(printk_log)'), /VMCOREINFO lacks SIZE\(printk_log\) or SIZE\(log\)$/);
  fails(t, without(plain(), 'SYMBOL(log_end)'), /^kernel log: cannot locate the plain log_buf .*: VMCOREINFO lacks SYMBOL\(log_end\)$/);
});

/** Either a log that formats, or a BadInputError; anything else (or a slow run) fails the property. */
function decodesOrRefuses(k: SyntheticKlog): boolean {
  const started = Date.now();
  try {
    formatDmesg(read(k));
  } catch (err) {
    if (!(err instanceof BadInputError)) throw err;
    if (!/^kernel log: [^\n]+$/.test(err.message)) throw new Error(`unclear message: ${err.message}`);
  }
  if (Date.now() - started > 2000) throw new Error('decoding took over 2 s');
  return true;
}

/** The ring's geometry in ring(): descriptors of 3 words, infos of 88 bytes, one record per slot from id 0. */
function recordSlots(k: SyntheticKlog, wordSize: number, i: number) {
  return [
    { vaddr: k.region('descs').vaddr + BigInt(i * 3 * wordSize), size: 3 * wordSize },
    { vaddr: k.region('infos').vaddr + BigInt(i * 88), size: 88 },
  ];
}

for (const arch of [X86_64, I386]) {
  test(`lockless ring ${arch.wordSize * 8}-bit: corrupting one record's descriptor or info keeps every other record`, (t) => {
    const base = ring(arch);
    const edit = fc.record({
      victim: fc.integer({ min: 0, max: records.length - 1 }),
      part: fc.integer({ min: 0, max: 1 }),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    });
    fc.assert(
      fc.property(edit, ({ victim, part, at, bytes }) => {
        const slot = recordSlots(base, arch.wordSize, victim)[part];
        const offset = Math.min(Math.floor(at * slot.size), slot.size - bytes.length);
        const log = read(base.patched([{ vaddr: slot.vaddr + BigInt(offset), bytes }]));
        const texts = log.records.map((r) => r.text);
        // Every untouched record is printed as it was, in order; the victim may be gone, garbled or repeated text.
        let from = 0;
        for (const [i, r] of records.entries()) {
          if (i === victim) continue;
          const found = texts.indexOf(r.text, from);
          if (found < 0) throw new Error(`record ${i} lost after an edit of record ${victim}`);
          from = found + 1;
        }
        return true;
      }),
      { numRuns: 300 },
    );
    t.pass();
  });
}

const builders: [string, () => SyntheticKlog][] = [
  ['lockless ring x86-64', () => ring()],
  ['lockless ring i386', () => ring(I386)],
  ['log_buf records', () => logBuf()],
  ['log_buf records i386', () => logBuf(I386)],
  ['plain log_buf', () => plain()],
];

for (const [name, build] of builders) {
  test(`${name}: random corruption of the log's memory decodes or gives BadInputError, quickly`, (t) => {
    const base = build();
    // Half the edits land in the big arrays (descriptors, infos, text), which uniform picks would rarely reach.
    const big = base.regions.flatMap((r, i) => (r.size >= 64 ? [i] : []));
    const edit = fc.record({
      region: fc.oneof(fc.integer({ min: 0, max: base.regions.length - 1 }), fc.constantFrom(...big)),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        const patched = base.patched(edits.map(({ region, at, bytes }) => {
          const r = base.regions[region];
          const offset = Math.min(Math.floor(at * r.size), Math.max(0, r.size - bytes.length));
          return { vaddr: r.vaddr + BigInt(offset), bytes: bytes.subarray(0, r.size - offset) };
        }));
        return decodesOrRefuses(patched);
      }),
      { numRuns: 300 },
    );
    t.pass();
  });

  test(`${name}: random VMCOREINFO numbers decode or give BadInputError`, (t) => {
    const base = build();
    const keys = [...base.vmcoreinfo.keys()].filter((k) => /^(SIZE|OFFSET|LENGTH|SYMBOL)\(/.test(k));
    const value = fc.oneof(fc.nat({ max: 200 }).map(String), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => v.toString(16)), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...keys), value), { minLength: 1, maxLength: 3 }), (changes) => {
        const info = new Map(base.vmcoreinfo);
        for (const [key, v] of changes) info.set(key, v);
        return decodesOrRefuses(base.withVmcoreinfo(info));
      }),
      { numRuns: 300 },
    );
    t.pass();
  });
}
