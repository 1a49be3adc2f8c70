// VMCOREINFO keys for the mem_map walk: parsing rules, the kernel-version layouts, and the reasons filtering is unavailable.

import { ProgramHeaderTable } from '../src/elf/program-header-table.js';
import test from 'ava';
import { parseMmInfo, type MmInfo } from '../src/mm/index.js';
import { SyntheticMm } from './helpers/synthetic-mm.js';

function info(overrides: Record<string, string | undefined> = {}, machine = 62) {
  const mm = new SyntheticMm({ vmcoreinfo: overrides });
  return parseMmInfo(mm.vmcoreinfo, ProgramHeaderTable.from(mm.phdrs), machine);
}

function ok(r: ReturnType<typeof info>): MmInfo {
  if ('unavailable' in r) throw new Error(r.unavailable);
  return r;
}

test('6.1 keys: negative phys_base modulo 2^64, the page-table root, mapcount values truncated to int32', (t) => {
  const i = ok(info({ 'NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)': '4294967167' }));
  t.is(i.physBase, (1n << 64n) - 0x11000000n);
  t.is(i.pgdPaddr, 0x400000n);
  t.is(i.levels, 4);
  t.is(i.types.buddy, -129);
  t.is(i.types.offline, -257);
  t.is(i.pagesPerSection, 256);
  t.is(i.sectionsPerRoot, 128);
  t.deepEqual(i.order, { kind: 'field', offset: 17, width: 1 });
  t.deepEqual(i.hugetlb, { kind: 'dtor', offset: 16, width: 1, value: 2 });
  t.deepEqual(i.bits, { lru: 4, private: 13, swapcache: 10, swapbacked: 19, slab: 9, hwpoison: 23, headMaskLo: 65536, headMaskHi: 0 });
});

test('init_level4_pgt is preferred to init_top_pgt; sme_mask and 5-level are read', (t) => {
  const i = ok(info({ 'SYMBOL(init_level4_pgt)': 'ffffffff91000000', 'NUMBER(sme_mask)': '140737488355328', 'NUMBER(pgtable_l5_enabled)': '1' }));
  t.is(i.pgdPaddr, 0xffffffff91000000n - 0xffffffff80000000n - 0x11000000n);
  t.is(i.smeMask, 1n << 47n);
  t.is(i.levels, 5);
});

test('later kernels: folio offsets (6.3), PG_hugetlb (6.6), hugetlb and slab page types (6.9, 6.10, 6.12)', (t) => {
  const v63 = ok(info({ 'OFFSET(page.compound_order)': undefined, 'OFFSET(page.compound_dtor)': undefined, 'OFFSET(folio._folio_order)': '81', 'OFFSET(folio._folio_dtor)': '80' }));
  t.deepEqual(v63.order, { kind: 'field', offset: 17, width: 1 });
  t.deepEqual(v63.hugetlb, { kind: 'dtor', offset: 16, width: 1, value: 2 });
  const v66 = ok(info({ 'NUMBER(PG_hugetlb)': '22', 'NUMBER(HUGETLB_PAGE_DTOR)': undefined }));
  t.deepEqual(v66.order, { kind: 'flags1' });
  t.deepEqual(v66.hugetlb, { kind: 'flag', bit: 22 });
  const v612 = ok(
    info({
      'NUMBER(PG_slab)': undefined,
      'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)': '-184549376',
      'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)': '-201326592',
      'NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)': '-268435456',
    }),
  );
  t.deepEqual(v612.hugetlb, { kind: 'mapcount', value: -201326592 });
  t.is(v612.types.slab, -184549376);
  t.is(v612.bits.slab, undefined);
});

test('the reasons page filtering is unavailable fit "page filtering is not available for <reason>"', (t) => {
  const reason = (r: ReturnType<typeof info>) => ('unavailable' in r ? r.unavailable : 'available');
  t.is(reason(info({}, 183)), 'a dump of another architecture (e_machine 183; only x86_64 is supported)');
  t.is(reason(parseMmInfo(new Map(), ProgramHeaderTable.from([]), 62)), 'a dump without VMCOREINFO');
  t.is(reason(info({ 'SYMBOL(mem_section)': undefined })), 'a dump whose VMCOREINFO lacks SYMBOL(mem_section)');
  t.is(reason(info({ 'OFFSET(page._mapcount)': undefined })), 'a dump whose VMCOREINFO lacks OFFSET(page._mapcount)');
  t.is(reason(info({ 'LENGTH(mem_section)': '1' })), 'a kernel without SPARSEMEM_EXTREME (LENGTH(mem_section) is 1)');
  t.is(reason(info({ PAGESIZE: '65536' })), 'a dump with PAGESIZE 65536 (x86_64 pages are 4096 bytes)');
  t.is(reason(info({ OSRELEASE: '3.10.0-1160.el7.x86_64' })), 'Linux 3.10.0-1160.el7.x86_64 (kernels before 4.4 keep compound pages differently)');
  t.is(reason(info({ 'SIZE(page)': '100000' })), 'a VMCOREINFO with an implausible SIZE(page) 100000');
  t.is(reason(info({ 'NUMBER(phys_base)': 'zz' })), 'a VMCOREINFO whose NUMBER(phys_base) is not a number ("zz")');
  t.is(reason(info({ 'SYMBOL(init_top_pgt)': undefined })), 'a dump whose VMCOREINFO lacks SYMBOL(init_top_pgt)');
  t.is(reason(info({ 'NUMBER(MAX_PHYSMEM_BITS)': '60' })), 'a VMCOREINFO with implausible SECTION_SIZE_BITS 20 / MAX_PHYSMEM_BITS 60');
  t.is(reason(info()), 'available');
});
