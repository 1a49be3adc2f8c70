// Struct pages per second of the memory model's classifier: the real fixture, and a synthetic 8 GiB machine.

import { openFileMemory } from '../src/klog/physical-memory.js';
import { createPageClassifier, type PageClassifier, type PhysRead } from '../src/mm/index.js';
import { realFixturePath } from '../test/helpers/fixture.js';
import { SyntheticMm } from '../test/helpers/synthetic-mm.js';

const RUNS = Number(process.env.MM_BENCH_RUNS ?? 15);

/** Wall time and CPU time (user + system) per pass: on a shared machine the CPU time is the steadier figure. */
function measure(label: string, c: PageClassifier, level: number): void {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    const t0 = performance.now();
    const u0 = process.cpuUsage();
    c.classifyCycle(0, c.maxMapnr, level);
    const u = process.cpuUsage(u0);
    wall.push(performance.now() - t0);
    cpu.push((u.user + u.system) / 1000);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const rate = (ms: number) => `${((c.maxMapnr / Math.max(ms, 1e-3)) * 1000 / 1e6).toFixed(0)} M/s`;
  console.log(
    `${label} -d ${level}: ${c.maxMapnr} struct pages; median wall ${median(wall).toFixed(1)} ms (${rate(median(wall))}), median CPU ${median(cpu).toFixed(1)} ms (${rate(median(cpu))}), best wall ${Math.min(...wall).toFixed(1)} ms (${rate(Math.min(...wall))})`,
  );
}

function open(input: Parameters<typeof createPageClassifier>[0]): PageClassifier {
  const c = createPageClassifier(input);
  if ('unavailable' in c) throw new Error(c.unavailable);
  return c;
}

const fixture = await openFileMemory(await realFixturePath('mce'));
const read: PhysRead = (paddr, length) => fixture.memory.read(paddr, length);
const real = open({ phdrs: fixture.phdrs, vmcoreinfo: fixture.vmcoreinfo, machine: fixture.machine, read });
for (const level of [0, 31]) measure('mce fixture (512 MiB)', real, level);
await fixture.close();

// 8 GiB in 2^21 struct pages: free blocks, page cache and anonymous pages in turn, served as views of one buffer.
const ramPages = 1 << 21;
const mm = new SyntheticMm({ ramPages, sectionSizeBits: 27 });
for (let pfn = 0; pfn < ramPages; pfn += 16) {
  const kind = (pfn >> 4) % 4;
  if (kind === 0) mm.setPage(pfn, { mapcount: -129, private: 4n });
  else if (kind === 1) for (let i = 0; i < 16; i++) mm.setPage(pfn + i, { flags: 1n << 4n });
  else if (kind === 2) for (let i = 0; i < 16; i++) mm.setPage(pfn + i, { mapping: 0xffff888000001001n });
}
const flat = Buffer.alloc(mm.structPagePhys(ramPages));
for (const [n, page] of mm.mem.pages) if ((n + 1) * 4096 <= flat.length) page.copy(flat, n * 4096);
const flatRead: PhysRead = (paddr, length) => (paddr + BigInt(length) <= BigInt(flat.length) ? flat.subarray(Number(paddr), Number(paddr) + length) : undefined);
const synthetic = open(mm.input(flatRead));
for (const level of [0, 31]) measure('synthetic 8 GiB', synthetic, level);
