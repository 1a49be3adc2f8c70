// Reusable read buffers: a chunk returns to the pool only once the sink has written every byte that came from it.

interface Lent {
  buffer: Buffer;
  seq: number;
  /** Output offset up to which the sink must have written before the chunk is free again; unset while views may follow. */
  releaseAt?: number;
}

/**
 * Views of a chunk (the whole read, or pieces around zero-filled pages) reach the serializer in order, before any view
 * of a later chunk. So when the serializer passes the first view of chunk s, every chunk before s is complete, and is
 * free once the sink has written up to where that view starts. Zero runs and foreign buffers are not tracked.
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly seqOf = new WeakMap<ArrayBufferLike, number>();
  private readonly lent: Lent[] = [];
  private nextSeq = 0;
  private written = 0;

  constructor(readonly chunkSize: number, count: number) {
    for (let i = 0; i < count; i++) this.free.push(Buffer.allocUnsafeSlow(chunkSize));
  }

  /** A buffer of `length` bytes (at most chunkSize); waits while every chunk is still in flight. */
  async acquire(length: number): Promise<Buffer> {
    while (this.free.length === 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const buffer = this.free.pop()!;
    const seq = this.nextSeq++;
    this.seqOf.set(buffer.buffer, seq);
    this.lent.push({ buffer, seq });
    return buffer.subarray(0, length);
  }

  /** The serializer is about to emit bytes of `chunk` (a view of it, or zeros that replace its bytes) at `outputStart`. */
  passing(chunk: Buffer, outputStart: number): void {
    const seq = this.seqOf.get(chunk.buffer);
    if (seq === undefined) return;
    for (const entry of this.lent) {
      if (entry.seq >= seq) break;
      entry.releaseAt ??= outputStart;
    }
    this.recycle();
  }

  /** The sink has written `total` bytes of output so far. */
  writtenUpTo(total: number): void {
    this.written = total;
    this.recycle();
  }

  private recycle(): void {
    while (this.lent.length > 0 && this.lent[0].releaseAt !== undefined && this.lent[0].releaseAt <= this.written) {
      this.free.push(this.lent.shift()!.buffer);
      this.waiting.shift()?.();
    }
  }
}
