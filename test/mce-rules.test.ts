import test from 'ava';
import { CPU_VENDOR, emptyMceRecord, type MceRecord } from '../src/mce/record.js';
import { cpuFamily, describeMceCause, isSmcaRecord, judgeMce, MCI_STATUS as S, pageShiftOf, statusBitNames } from '../src/mce/rules.js';

function rec(fields: Partial<MceRecord>): MceRecord {
  return { ...emptyMceRecord(), ...fields };
}

const UC_ERR = S.VAL | S.UC | S.EN; // uncorrected, no address yet
/** The fixture's record (shared/fixtures/README.md). */
const FIXTURE = rec({ status: 0xbe00000000100134n, misc: 0x8cn, addr: 0x345000n, mcgstatus: 5n, bank: 1, cpuid: 0x506e3, microcode: 1 });

// ---- Intel and Zhaoxin ----

test('fixture record: physical, page granularity -> skip page 0x345000, fatal', (t) => {
  const v = judgeMce(FIXTURE, 'kernel-log', 4096);
  t.true(v.valid && v.uncorrected && v.pcc && v.fatal && v.addressUsable);
  t.is(v.addressMode, 2);
  t.is(v.addressModeName, 'physical');
  t.is(v.granularityBits, 12);
  t.false(v.coarse);
  t.deepEqual(v.skip, { paddr: 0x345000n, length: 0x1000n });
  t.true(v.messages.includes('uncorrected error at physical address 0x345000: skipping page 0x345000 (0x1000 bytes)'));
  t.true(v.messages.includes('fatal: PCC set (processor context corrupt)'));
  t.is(describeMceCause(FIXTURE), 'MCE bank 1 status 0xbe00000000100134 addr 0x345000 (physical)');
});

test('Intel physical: the address is masked to its granularity, then to the page', (t) => {
  const v = judgeMce(rec({ status: UC_ERR | S.MISCV | S.ADDRV, misc: 0x86n, addr: 0x345fc7n }), 'user-records', 4096);
  t.is(v.granularityBits, 6);
  t.deepEqual(v.skip, { paddr: 0x345000n, length: 0x1000n });
});

test('Intel linear address: not usable, reported, nothing skipped', (t) => {
  const r = rec({ status: 0xbe00000000100134n, misc: 0x4cn, addr: 0x345000n, bank: 1 });
  const v = judgeMce(r, 'kernel-log', 4096);
  t.false(v.addressUsable);
  t.is(v.addressMode, 1);
  t.is(v.addressModeName, 'linear');
  t.is(v.skip, undefined);
  t.true(v.messages.includes('address not usable: MISC[8:6] mode 1 (linear)'));
  t.true(v.fatal, 'PCC still makes it fatal');
  t.is(describeMceCause(r), 'MCE bank 1 status 0xbe00000000100134 addr 0x345000 (not usable: linear)');
});

test('Intel MISCV missing: not usable', (t) => {
  const r = rec({ status: UC_ERR | S.ADDRV, misc: 0x8cn, addr: 0x345000n });
  const v = judgeMce(r, 'user-records', 4096);
  t.false(v.addressUsable);
  t.is(v.skip, undefined);
  t.is(v.addressMode, undefined);
  t.true(v.messages.some((m) => m.startsWith('address not usable: MISCV clear')));
  t.regex(describeMceCause(r), /\(not usable: MISCV clear\)$/);
});

test('ADDRV missing: no address, nothing skipped, still fatal with PCC', (t) => {
  const r = rec({ status: UC_ERR | S.MISCV | S.PCC, misc: 0x8cn, addr: 0x345000n, bank: 3 });
  const v = judgeMce(r, 'user-records', 4096);
  t.false(v.addressUsable);
  t.is(v.skip, undefined);
  t.true(v.fatal);
  t.true(v.messages.includes('address not usable: ADDRV clear (no address)'));
  t.true(v.messages.includes('uncorrected error without a usable address: nothing skipped'));
  t.is(describeMceCause(r), `MCE bank 3 status 0x${(UC_ERR | S.MISCV | S.PCC).toString(16)} (no address)`);
});

test('corrected error: reported, nothing skipped, not fatal', (t) => {
  const v = judgeMce(rec({ status: S.VAL | S.EN | S.MISCV | S.ADDRV, misc: 0x8cn, addr: 0x345000n }), 'kernel-log', 4096);
  t.false(v.uncorrected);
  t.true(v.addressUsable);
  t.is(v.skip, undefined);
  t.false(v.fatal);
  t.deepEqual(v.messages, ['corrected error: nothing skipped']);
});

test('VAL clear: nothing at all', (t) => {
  const v = judgeMce(rec({ status: S.UC | S.PCC | S.MISCV | S.ADDRV, misc: 0x8cn, addr: 0x345000n }), 'kernel-log', 4096);
  t.false(v.valid);
  t.false(v.fatal);
  t.is(v.skip, undefined);
  t.regex(v.messages[0], /^VAL clear/);
});

test('PCC: fatal from every origin', (t) => {
  for (const origin of ['dump-note', 'kernel-log', 'user-records'] as const) {
    t.true(judgeMce(FIXTURE, origin, 4096).fatal, origin);
  }
});

test('UC without PCC: fatal only when the crashed kernel recorded it', (t) => {
  const r = rec({ status: UC_ERR | S.MISCV | S.ADDRV | S.S | S.AR, misc: 0x8cn, addr: 0x345000n });
  t.true(judgeMce(r, 'dump-note', 4096).fatal);
  t.true(judgeMce(r, 'kernel-log', 4096).fatal);
  const user = judgeMce(r, 'user-records', 4096);
  t.false(user.fatal);
  t.deepEqual(user.skip, { paddr: 0x345000n, length: 0x1000n });
  t.true(user.messages.includes('not fatal: uncorrected without PCC, from the records given by the user'));
});

test('coarse granularity 2^21: accepted, whole 2 MiB range skipped, kernel difference said', (t) => {
  const r = rec({ status: FIXTURE.status, misc: 0x80n | 21n, addr: 0x12345678n });
  const v = judgeMce(r, 'kernel-log', 4096);
  t.true(v.addressUsable);
  t.true(v.coarse);
  t.is(v.granularityBits, 21);
  t.deepEqual(v.skip, { paddr: 0x12200000n, length: 0x200000n });
  t.true(v.messages.includes('granularity 2^21 is coarser than a page: skipping 0x200000 bytes (the kernel would refuse this address)'));
  t.is(describeMceCause(r), `MCE bank 0 status 0xbe00000000100134 addr 0x12345678 (physical, granularity 2^21)`);
});

test('granularity equal to the page is not coarse; page size comes from the dump', (t) => {
  const r = rec({ status: FIXTURE.status, misc: 0x80n | 16n, addr: 0x345000n });
  const v64k = judgeMce(r, 'kernel-log', 65536);
  t.false(v64k.coarse);
  t.deepEqual(v64k.skip, { paddr: 0x340000n, length: 0x10000n });
  const v4k = judgeMce(r, 'kernel-log', 4096);
  t.true(v4k.coarse);
  t.deepEqual(v4k.skip, { paddr: 0x340000n, length: 0x10000n });
  t.deepEqual(judgeMce(FIXTURE, 'kernel-log', 65536).skip, { paddr: 0x340000n, length: 0x10000n });
});

test('Zhaoxin follows the Intel rule', (t) => {
  const linear = judgeMce(rec({ status: FIXTURE.status, misc: 0x4cn, addr: 0x345000n, cpuvendor: CPU_VENDOR.ZHAOXIN }), 'kernel-log', 4096);
  t.false(linear.addressUsable);
  const phys = judgeMce(rec({ ...FIXTURE, cpuvendor: CPU_VENDOR.ZHAOXIN }), 'kernel-log', 4096);
  t.deepEqual(phys.skip, { paddr: 0x345000n, length: 0x1000n });
});

// ---- AMD and Hygon ----

const K10 = 0x00100f42; // family 0x10: legacy MCA
const ZEN3 = 0x00a00f11; // family 0x19: SMCA

test('cpu family and SMCA detection', (t) => {
  t.is(cpuFamily(K10), 0x10);
  t.is(cpuFamily(ZEN3), 0x19);
  t.is(cpuFamily(0x506e3), 6);
  t.false(isSmcaRecord(rec({ cpuid: K10 })));
  t.true(isSmcaRecord(rec({ cpuid: ZEN3 })));
  t.true(isSmcaRecord(rec({ cpuid: 0, ipid: 0x9600050f00n })), 'MCA_IPID exists only on SMCA');
});

test('AMD legacy: northbridge bank 4 DRAM ECC (XEC 8) is usable', (t) => {
  const status = UC_ERR | S.ADDRV | S.PCC | (8n << 16n);
  const v = judgeMce(rec({ status, addr: 0x7654321n, bank: 4, cpuvendor: CPU_VENDOR.AMD, cpuid: K10 }), 'kernel-log', 4096);
  t.true(v.addressUsable);
  t.deepEqual(v.skip, { paddr: 0x7654000n, length: 0x1000n });
  t.is(v.addressMode, undefined);
  t.is(v.granularityBits, undefined);
});

test('AMD legacy: other bank 4 errors are not usable, even with bit 43', (t) => {
  const status = UC_ERR | S.ADDRV | S.POISON | (5n << 16n);
  const r = rec({ status, addr: 0x7654321n, bank: 4, cpuvendor: CPU_VENDOR.AMD, cpuid: K10 });
  const v = judgeMce(r, 'kernel-log', 4096);
  t.false(v.addressUsable);
  t.true(v.messages.some((m) => m.includes('northbridge bank 4') && m.includes('code 5')));
  t.regex(describeMceCause(r), /\(not usable: northbridge, not DRAM ECC\)$/);
});

test('AMD legacy: other banks need POISON', (t) => {
  const base = { addr: 0x1234000n, bank: 2, cpuvendor: CPU_VENDOR.AMD, cpuid: K10 };
  t.true(judgeMce(rec({ ...base, status: UC_ERR | S.ADDRV | S.POISON }), 'kernel-log', 4096).addressUsable);
  const v = judgeMce(rec({ ...base, status: UC_ERR | S.ADDRV }), 'kernel-log', 4096);
  t.false(v.addressUsable);
  t.true(v.messages.some((m) => m.startsWith('address not usable: AMD: neither POISON is set')));
});

test('AMD: ADDRV is required even with POISON', (t) => {
  const v = judgeMce(rec({ status: UC_ERR | S.POISON, addr: 0x1234000n, bank: 2, cpuvendor: CPU_VENDOR.AMD, cpuid: ZEN3 }), 'kernel-log', 4096);
  t.false(v.addressUsable);
});

test('AMD SMCA: POISON makes it usable; LSB from MCA_ADDR[61:56] masks the address', (t) => {
  const addr = (12n << 56n) | 0x3456789abn;
  const r = rec({ status: UC_ERR | S.ADDRV | S.POISON | S.TCC, addr, bank: 1, cpuvendor: CPU_VENDOR.AMD, cpuid: ZEN3, ipid: 0xb000000000n });
  const v = judgeMce(r, 'dump-note', 4096);
  t.true(v.addressUsable);
  t.is(v.granularityBits, 12);
  t.false(v.coarse);
  t.deepEqual(v.skip, { paddr: 0x345678000n, length: 0x1000n });
  t.true(v.fatal, 'from the crashed kernel');
});

test('AMD SMCA: coarse LSB in MCA_ADDR skips the whole range', (t) => {
  const addr = (21n << 56n) | 0x3456789abn;
  const v = judgeMce(rec({ status: UC_ERR | S.ADDRV | S.POISON, addr, cpuvendor: CPU_VENDOR.AMD, cpuid: ZEN3 }), 'user-records', 4096);
  t.true(v.coarse);
  t.deepEqual(v.skip, { paddr: 0x345600000n, length: 0x200000n });
  t.true(v.messages.some((m) => m.startsWith('granularity 2^21 is coarser than a page: skipping 0x200000 bytes (the kernel would act on the page')));
  t.false(v.fatal);
});

test('AMD SMCA: LSB in MCA_STATUS[29:24] (McaLsbInStatusSupported), address bits 56:0', (t) => {
  const status = UC_ERR | S.ADDRV | S.POISON | (12n << 24n);
  const addr = (1n << 56n) | 0x345123n;
  const v = judgeMce(rec({ status, addr, cpuvendor: CPU_VENDOR.AMD, cpuid: ZEN3 }), 'user-records', 4096);
  t.is(v.granularityBits, 12);
  t.deepEqual(v.skip, { paddr: (1n << 56n) | 0x345000n, length: 0x1000n });
});

test('AMD SMCA: PADDRV (PhysAddrV) makes it usable without POISON', (t) => {
  const v = judgeMce(rec({ status: UC_ERR | S.ADDRV | S.PADDRV, addr: 0x345000n, cpuvendor: CPU_VENDOR.AMD, cpuid: ZEN3 }), 'kernel-log', 4096);
  t.true(v.addressUsable);
  t.deepEqual(v.skip, { paddr: 0x345000n, length: 0x1000n });
});

test('AMD SMCA: UMC error without POISON or PADDRV is not usable', (t) => {
  const r = rec({ status: UC_ERR | S.ADDRV | S.PCC, addr: 0x345000n, bank: 16, cpuvendor: CPU_VENDOR.AMD, cpuid: ZEN3, ipid: 0x9600150f00n });
  const v = judgeMce(r, 'kernel-log', 4096);
  t.false(v.addressUsable);
  t.is(v.skip, undefined);
  t.true(v.fatal);
  t.true(v.messages.some((m) => m.startsWith('address not usable: AMD: neither POISON nor PADDRV is set')));
  t.is(describeMceCause(r), `MCE bank 16 status 0x${r.status.toString(16)} addr 0x345000 (not usable: not a system physical address)`);
});

test('AMD deferred error (UC clear): reported as corrected, nothing skipped', (t) => {
  const v = judgeMce(rec({ status: S.VAL | S.EN | S.ADDRV | S.DEFERRED | S.POISON, addr: 0x345000n, cpuvendor: CPU_VENDOR.AMD, cpuid: ZEN3 }), 'kernel-log', 4096);
  t.is(v.skip, undefined);
  t.false(v.fatal);
  t.true(v.messages[0].startsWith('corrected error (UC clear; AMD DEFERRED set)'));
});

test('Hygon takes the kernel default branch: ADDRV alone, as for other vendors', (t) => {
  const base = { addr: 0x345000n, cpuvendor: CPU_VENDOR.HYGON, cpuid: 0x00900f01 }; // family 0x18
  t.true(judgeMce(rec({ ...base, status: UC_ERR | S.ADDRV }), 'kernel-log', 4096).addressUsable);
  t.false(judgeMce(rec({ ...base, status: UC_ERR }), 'kernel-log', 4096).addressUsable);
});

test('Hygon SMCA: MCA_ADDR[61:56] holds the LSB, stripped as smca_extract_err_addr() does on AMD', (t) => {
  const base = { status: UC_ERR | S.ADDRV | S.PADDRV, addr: (12n << 56n) | 0x345abcn, cpuid: 0x00900f01, ipid: 0x9600050f00n };
  const hygon = judgeMce(rec({ ...base, cpuvendor: CPU_VENDOR.HYGON }), 'user-records', 4096);
  const amd = judgeMce(rec({ ...base, cpuvendor: CPU_VENDOR.AMD }), 'user-records', 4096);
  t.deepEqual(hygon.skip, { paddr: 0x345000n, length: 0x1000n });
  t.deepEqual(hygon.skip, amd.skip);
  t.is(hygon.granularityBits, 12);
});

test('a granularity above 1 GiB is refused: not usable, nothing skipped, flagged tooCoarse; 1 GiB itself is accepted', (t) => {
  const status = UC_ERR | S.MISCV | S.ADDRV | S.PCC;
  const huge = judgeMce(rec({ status, misc: 0x80n | 63n, addr: 0x345000n }), 'user-records', 4096);
  t.false(huge.addressUsable);
  t.true(huge.tooCoarse);
  t.is(huge.skip, undefined);
  t.true(huge.fatal);
  t.true(huge.messages.some((m) => /granularity 2\^63 is coarser than the 2\^30 \(1 GiB\)/.test(m)), huge.messages.join('; '));
  const gib = judgeMce(rec({ status, misc: 0x80n | 30n, addr: 0x40345000n }), 'user-records', 4096);
  t.false(gib.tooCoarse);
  t.deepEqual(gib.skip, { paddr: 0x40000000n, length: 0x40000000n });
  const amd = judgeMce(rec({ status: UC_ERR | S.ADDRV | S.PADDRV | (40n << 24n), addr: 0x345000n, cpuvendor: CPU_VENDOR.AMD, cpuid: 0x00a00f11 }), 'user-records', 4096);
  t.true(amd.tooCoarse);
  t.is(amd.skip, undefined);
});

// ---- other vendors ----

test('other vendor: ADDRV alone makes the address usable; MISC is not read', (t) => {
  const r = rec({ status: UC_ERR | S.ADDRV, misc: 0x40n | 30n, addr: 0x345abcn, cpuvendor: CPU_VENDOR.CENTAUR });
  const v = judgeMce(r, 'kernel-log', 4096);
  t.true(v.addressUsable);
  t.is(v.granularityBits, undefined);
  t.is(v.addressMode, undefined);
  t.false(v.coarse);
  t.deepEqual(v.skip, { paddr: 0x345000n, length: 0x1000n });
  t.false(judgeMce(rec({ ...r, status: UC_ERR }), 'kernel-log', 4096).addressUsable);
});

// ---- helpers ----

test('statusBitNames: Intel and AMD names', (t) => {
  t.deepEqual(statusBitNames(0xbe00000000100134n, CPU_VENDOR.INTEL), ['VAL', 'UC', 'EN', 'MISCV', 'ADDRV', 'PCC']);
  t.deepEqual(statusBitNames(S.VAL | S.OVER | S.S | S.AR, CPU_VENDOR.INTEL), ['VAL', 'OVER', 'S', 'AR']);
  t.deepEqual(statusBitNames(S.VAL | S.TCC | S.DEFERRED | S.POISON, CPU_VENDOR.AMD), ['VAL', 'TCC', 'DEFERRED', 'POISON']);
  t.deepEqual(statusBitNames(S.VAL | S.TCC | S.POISON, CPU_VENDOR.HYGON), ['VAL', 'TCC', 'POISON']);
  t.deepEqual(statusBitNames(S.PADDRV | S.SYNDV, CPU_VENDOR.AMD), ['PADDRV', 'SYNDV']);
  t.deepEqual(statusBitNames(S.POISON, CPU_VENDOR.INTEL), []);
});

test('page size must be a power of two', (t) => {
  t.is(pageShiftOf(4096), 12);
  t.is(pageShiftOf(65536), 16);
  t.throws(() => judgeMce(FIXTURE, 'kernel-log', 4095), { instanceOf: RangeError });
  t.throws(() => judgeMce(FIXTURE, 'kernel-log', 0), { instanceOf: RangeError });
});
