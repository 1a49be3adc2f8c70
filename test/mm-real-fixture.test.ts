// The memory model on both real 6.1 vmcores: bitmap for bitmap what makedumpfile 1.7.2 keeps, and the poisoned pages.

import test from 'ava';
import { readDumpPrefix } from '../src/dump/prefix.js';
import { fdReadAt, memoryFromSegments } from '../src/klog/physical-memory.js';
import { createPageClassifier, dumpableCount, memUsage, type CycleClassification, type PageClassifier, type PhysRead } from '../src/mm/index.js';
import { openSource } from '../src/sources/byte-source.js';
import { positionalRangeReader } from '../src/sources/positional-reader.js';
import { realFixturePath, type FixtureName } from './helpers/fixture.js';
import { makedumpfileBitmaps, reportCount } from './helpers/kdump-bitmaps.js';
import { tempDir } from './helpers/tmp.js';

async function openClassifier(t: { teardown(fn: () => Promise<void>): void }, which: FixtureName): Promise<{ file: string; classifier: PageClassifier; calls: () => number }> {
  const file = await realFixturePath(which);
  const source = await openSource(file);
  t.teardown(() => source.close());
  const prefix = await readDumpPrefix(positionalRangeReader(source));
  const memory = memoryFromSegments(prefix.phdrs, fdReadAt(source.fd, file));
  let calls = 0;
  const read: PhysRead = (paddr, length) => {
    calls++;
    return memory.read(paddr, length);
  };
  const classifier = createPageClassifier({ phdrs: prefix.phdrs, vmcoreinfo: prefix.vmcoreinfo, machine: prefix.header.machine, read });
  if ('unavailable' in classifier) throw new Error(`page filtering unavailable for ${which}: ${classifier.unavailable}`);
  return { file, classifier, calls: () => calls };
}

/** Bytes of `ours` against the first bytes of makedumpfile's bitmap; the rest of its bitmap must be clear. */
function differingPfns(ours: Uint8Array, theirs: Uint8Array): number[] {
  const diffs: number[] = [];
  for (let i = 0; i < theirs.length; i++) {
    const a = i < ours.length ? ours[i] : 0;
    if (a !== theirs[i]) for (let b = 0; b < 8; b++) if (((a ^ theirs[i]) >> b) & 1 && diffs.length < 20) diffs.push(i * 8 + b);
  }
  return diffs;
}

const pfns = (c: CycleClassification, kind: 'poisoned' | 'offline') => c[kind].map((r) => [r.start, r.end]);

for (const which of ['mce', 'hwpoison'] as const) {
  test(`${which}: present and dumpable bitmaps equal makedumpfile -c -d N at 0, 1, 2, 8, 16, 31`, async (t) => {
    const { file, classifier } = await openClassifier(t, which);
    const dir = await tempDir(t, 'mm-mdf');
    t.is(classifier.maxMapnr, classifier.segmentsMaxMapnr);
    for (const level of [0, 1, 2, 8, 16, 31]) {
      const theirs = await makedumpfileBitmaps(file, level, dir);
      t.is(theirs.maxMapnr, classifier.maxMapnr, `max_mapnr at -d ${level}`);
      const ours = classifier.classifyCycle(0, classifier.maxMapnr, level);
      t.deepEqual(differingPfns(ours.present, theirs.present), [], `bitmap 1 at -d ${level}`);
      // kdump keeps zero pages in bitmap 2, so at -d 1 (and 31) it is our pre-zero bitmap.
      t.deepEqual(differingPfns(ours.dumpable, theirs.kept), [], `bitmap 2 at -d ${level}`);
      t.deepEqual(ours.unreadable, []);
      if (level === 31) {
        t.is(ours.counts.free, reportCount(theirs.report, 'Free pages'));
        t.is(ours.counts.cache, reportCount(theirs.report, 'Non-private cache pages'));
        t.is(ours.counts.cachePrivate, reportCount(theirs.report, 'Private cache pages'));
        t.is(ours.counts.user, reportCount(theirs.report, 'User process data pages'));
        t.is(ours.counts.hwpoison, reportCount(theirs.report, 'Hwpoison pages'));
        t.is(ours.counts.offline, reportCount(theirs.report, 'Offline pages'));
        const usage = memUsage(classifier);
        t.deepEqual(usage.counts, ours.counts);
        t.is(dumpableCount(classifier, 16), classifier.classifyCycle(0, classifier.maxMapnr, 16).counts.kept);
      }
    }
  });
}

test('hwpoison: the seven poisoned pages in the dump are poisoned at every level, 0x2000000 with its compound block', async (t) => {
  const { classifier } = await openClassifier(t, 'hwpoison');
  const expected = [
    [0x2000, 0x2004], // slab head of order 2
    [0x4000, 0x4001],
    [0x6000, 0x6001],
    [0x7654, 0x7655],
    [0x8000, 0x8001],
    [0x14000, 0x14001],
    [0x1d345, 0x1d346],
  ];
  for (const level of [0, 2, 8, 16, 31]) {
    const c = classifier.classifyCycle(0, classifier.maxMapnr, level);
    t.deepEqual(pfns(c, 'poisoned'), expected, `-d ${level}`);
    t.deepEqual(pfns(c, 'offline'), []);
    for (const [a, b] of expected) for (let p = a; p < b; p++) t.false(bit(c.dumpable, p), `pfn ${p.toString(16)} dumpable at -d ${level}`);
  }
});

test('mce: the machine-check page 0x345000 is poisoned at every level, even inside a free block at -d 16', async (t) => {
  const { classifier, calls } = await openClassifier(t, 'mce');
  for (const level of [0, 16, 31]) {
    const before = calls();
    const c = classifier.classifyCycle(0, classifier.maxMapnr, level);
    t.deepEqual(pfns(c, 'poisoned'), [[0x345, 0x346]], `-d ${level}`);
    t.false(bit(c.dumpable, 0x345));
    // 512 MiB of RAM is 2 MiB of struct pages: read in windows, not page by page.
    t.true(calls() - before < 64, `${calls() - before} reads`);
  }
});

function bit(bitmap: Uint8Array, i: number): boolean {
  return (bitmap[i >> 3] & (1 << (i & 7))) !== 0;
}
