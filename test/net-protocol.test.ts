// The transfer protocol's codec: every frame round-trips, frames decode the same on any chunk split, limits hold.

import test from 'ava';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import {
  defaultDumpName,
  dumpNameProblem,
  encodeAck,
  encodeEnd,
  encodeError,
  encodeFrame,
  encodeFrameHeader,
  encodeHello,
  encodePatchPayload,
  encodeReady,
  ErrorCode,
  FrameDecoder,
  FrameType,
  MAX_DATA_PAYLOAD,
  parseAck,
  parseEnd,
  parseError,
  parseHello,
  parsePatch,
  parseReady,
  PROTOCOL_VERSION,
  ProtocolError,
  type Frame,
} from '../src/net/protocol.js';
import { tokensMatch } from '../src/net/token.js';

function decodeOne(bytes: Buffer): Frame {
  const frames = new FrameDecoder().push(bytes);
  if (frames.length !== 1) throw new Error(`want one frame, got ${frames.length}`);
  return frames[0];
}

test('HELLO round-trips: magic, version, token, name, hostname', (t) => {
  const frame = decodeOne(encodeHello({ token: Buffer.from('s3cret\u0000\xff', 'latin1'), name: 'db7-20260126T115300Z', hostname: 'db7.example' }));
  t.is(frame.type, FrameType.HELLO);
  t.deepEqual(parseHello(frame.payload), { version: PROTOCOL_VERSION, token: Buffer.from('s3cret\u0000\xff', 'latin1'), name: 'db7-20260126T115300Z', hostname: 'db7.example' });
  t.is(frame.payload.subarray(0, 8).toString('ascii'), 'SLIMCORE');
});

test('a HELLO of another version is recognised as such, so that the receiver can name both versions', (t) => {
  const frame = decodeOne(encodeHello({ version: 2, token: Buffer.alloc(0), name: 'x', hostname: 'h' }));
  t.is(parseHello(frame.payload).version, 2);
});

test('a HELLO without the magic, or with a field past its end, is a protocol error', (t) => {
  const good = decodeOne(encodeHello({ token: Buffer.from('t'), name: 'n', hostname: 'h' })).payload;
  const badMagic = Buffer.from(good);
  badMagic.write('GET / HT', 0, 'ascii');
  t.throws(() => parseHello(badMagic), { instanceOf: ProtocolError, message: /wrong magic/ });
  t.throws(() => parseHello(good.subarray(0, good.length - 1)), { instanceOf: ProtocolError, message: /runs past the end/ });
  t.throws(() => parseHello(Buffer.concat([good, Buffer.from([0])])), { instanceOf: ProtocolError, message: /unexpected bytes/ });
});

test('READY, PATCH, END, ACK and ERROR round-trip', (t) => {
  t.deepEqual(parseReady(decodeOne(encodeReady('vmcore-1')).payload), { version: PROTOCOL_VERSION, name: 'vmcore-1' });
  const patch = decodeOne(encodeFrame(FrameType.PATCH, encodePatchPayload(0x1234_5678_9a, Buffer.from('notes'))));
  t.deepEqual(parsePatch(patch.payload), { offset: 0x1234_5678_9a, bytes: Buffer.from('notes') });
  const digest = Buffer.alloc(32, 7);
  t.deepEqual(parseEnd(decodeOne(encodeEnd({ dataBytes: 5 << 30, digest })).payload), { dataBytes: 5 << 30, digest });
  t.deepEqual(parseAck(decodeOne(encodeAck(42, 'vmcore-1')).payload), { bytes: 42, name: 'vmcore-1' });
  t.deepEqual(parseError(decodeOne(encodeError(ErrorCode.TOO_LARGE, 'over --max-size')).payload), { code: ErrorCode.TOO_LARGE, message: 'over --max-size' });
});

test('an ERROR message is capped, and control characters from a peer never reach a log line', (t) => {
  const long = decodeOne(encodeError(ErrorCode.PROTOCOL, 'x'.repeat(5000)));
  t.is(parseError(long.payload).message.length, 1024);
  const sneaky = encodeFrame(FrameType.ERROR, Buffer.concat([Buffer.from([0, 1]), Buffer.from('bad\nslim-core receive: dump result=ok\u001b[2J')]));
  t.notRegex(parseError(decodeOne(sneaky).payload).message, /[\n\u001b]/);
});

test('the decoder refuses an oversized frame from its header alone, before buffering the payload', (t) => {
  const decoder = new FrameDecoder();
  t.throws(() => decoder.push(encodeFrameHeader(FrameType.DATA, MAX_DATA_PAYLOAD + 1)), { instanceOf: ProtocolError, message: /over the limit/ });
  t.throws(() => new FrameDecoder().push(encodeFrameHeader(FrameType.HELLO, 0xffff_ffff)), { instanceOf: ProtocolError, message: /HELLO frame of 4294967295 bytes/ });
  t.notThrows(() => new FrameDecoder().push(encodeFrameHeader(FrameType.DATA, MAX_DATA_PAYLOAD)));
  t.throws(() => encodeFrame(FrameType.DATA, Buffer.alloc(MAX_DATA_PAYLOAD + 1)), { instanceOf: RangeError });
});

test('an unknown frame type is refused; a TLS record gets a hint', (t) => {
  t.throws(() => new FrameDecoder().push(Buffer.from('GET / HTTP/1.1\r\n')), { instanceOf: ProtocolError, message: /unknown frame type 71$/ });
  t.throws(() => new FrameDecoder().push(Buffer.from([0x16, 3, 1, 0, 200])), { instanceOf: ProtocolError, message: /is the other end using TLS/ });
});

test('the decoder knows when a stream stopped inside a frame', (t) => {
  const decoder = new FrameDecoder();
  const bytes = encodeFrame(FrameType.DATA, Buffer.alloc(10, 1));
  t.true(decoder.idle);
  decoder.push(bytes.subarray(0, 3));
  t.false(decoder.idle);
  decoder.push(bytes.subarray(3, 8));
  t.false(decoder.idle);
  t.is(decoder.push(bytes.subarray(8)).length, 1);
  t.true(decoder.idle);
});

const frameArbitrary: fc.Arbitrary<Frame> = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }).map((b) => ({ type: FrameType.DATA, payload: Buffer.from(b) })),
  fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 300 })).map(([offset, b]) => ({ type: FrameType.PATCH, payload: encodePatchPayload(offset, Buffer.from(b)) })),
  fc.string({ maxLength: 100 }).map((m) => ({ type: FrameType.ERROR, payload: Buffer.concat([Buffer.from([0, 3]), Buffer.from(m)]) })),
  fc.constant({ type: FrameType.END, payload: Buffer.alloc(40, 9) }),
);

test('frames decode the same whatever the chunk splits (fast-check)', (t) => {
  fc.assert(
    fc.property(fc.array(frameArbitrary, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
      const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload)));
      const points = [...new Set(cuts.map((c) => (stream.length ? c % (stream.length + 1) : 0)))].sort((a, b) => a - b);
      const decoder = new FrameDecoder();
      const decoded: Frame[] = [];
      let last = 0;
      for (const point of [...points, stream.length]) {
        decoded.push(...decoder.push(stream.subarray(last, point)));
        last = point;
      }
      // Throwing (not t.deepEqual) lets fast-check shrink a failure to the smallest split.
      assert.deepStrictEqual(decoded.map((f) => ({ type: f.type, payload: Buffer.from(f.payload) })), frames);
      assert.ok(decoder.idle);
    }),
  );
  t.pass();
});

test('dump names: path separators, "..", hidden and control characters are refused', (t) => {
  for (const bad of ['', '../etc/passwd', 'a/b', '/abs', 'a\\b', '..', '.', '.hidden', 'x..y', 'tab\there', 'new\nline', 'nul\u0000', 'vm.incomplete', 'x'.repeat(201)]) {
    t.truthy(dumpNameProblem(bad), JSON.stringify(bad));
  }
  for (const good of ['vmcore', 'db7-20260126T115300Z', 'host.example.com-vmcore', 'dump_1.elf', 'crash-ünïcode']) {
    t.is(dumpNameProblem(good), undefined, good);
  }
});

test('the default name is the hostname and the UTC time, always a valid name', (t) => {
  const when = new Date(Date.UTC(2026, 0, 26, 11, 53, 0, 123));
  t.is(defaultDumpName('db7.example.com', when), 'db7.example.com-20260126T115300Z');
  for (const host of ['..', '../x', '.lead', 'a/b', '', 'white space', 'trailing.']) {
    t.is(dumpNameProblem(defaultDumpName(host, when)), undefined, host);
  }
});

test('tokens compare equal only when identical, whatever their lengths', (t) => {
  t.true(tokensMatch(Buffer.from('secret'), Buffer.from('secret')));
  t.false(tokensMatch(Buffer.from('secret'), Buffer.from('secreT')));
  t.false(tokensMatch(Buffer.from('secret'), Buffer.from('secret-and-more')));
  t.false(tokensMatch(Buffer.from('secret'), Buffer.alloc(0)));
});
