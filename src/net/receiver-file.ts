// One incoming dump on the receiver: NAME.incomplete (mode 0600) written in order and patched, then fsynced and renamed.

import { constants } from 'node:fs';
import { access, chmod, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { IoError, UsageError } from '../errors.js';
import type { DumpStore, IncomingTarget } from './dump-store.js';
import { ErrorCode, INCOMPLETE_SUFFIX } from './protocol.js';

/** A transfer the receiver turns down: sent to the sender as an ERROR frame, and logged. */
export class TransferRefused extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** Creates the directory with mode 0700, or tightens an existing one to 0700: dumps hold all of a machine's memory. */
export async function prepareDumpDirectory(dir: string): Promise<{ tightened: boolean }> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const info = await stat(dir);
    if (!info.isDirectory()) throw new UsageError(`--dir ${dir} is not a directory`);
    if ((info.mode & 0o777) === 0o700) return { tightened: false };
    await chmod(dir, 0o700);
    return { tightened: true };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new IoError(`cannot prepare --dir ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export class IncomingDump implements IncomingTarget {
  private written = 0;
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly finalPath: string,
    private readonly tempPath: string,
    private readonly handle: FileHandle,
    private readonly maxSize: number,
  ) {}

  /** `name` must already have passed dumpNameProblem(). Refuses to replace a dump, or to share a name with one in flight. */
  static async create(dir: string, name: string, maxSize = Number.MAX_SAFE_INTEGER): Promise<IncomingDump> {
    const root = path.resolve(dir);
    const finalPath = path.join(root, name);
    if (path.dirname(finalPath) !== root) throw new TransferRefused(ErrorCode.BAD_NAME, `the name ${JSON.stringify(name)} leaves the directory`);
    const tempPath = finalPath + INCOMPLETE_SUFFIX;
    if (await exists(finalPath)) throw new TransferRefused(ErrorCode.NAME_EXISTS, `a dump named ${name} already exists`);
    let handle: FileHandle;
    try {
      handle = await open(tempPath, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new TransferRefused(ErrorCode.NAME_EXISTS, `a dump named ${name} is being received already`);
      throw new TransferRefused(ErrorCode.RECEIVER_IO, `cannot create ${name}${INCOMPLETE_SUFFIX}: ${(err as Error).message}`);
    }
    return new IncomingDump(name, finalPath, tempPath, handle, maxSize);
  }

  get size(): number {
    return this.written;
  }

  async append(bytes: Buffer): Promise<void> {
    if (this.written + bytes.length > this.maxSize) {
      throw new TransferRefused(ErrorCode.TOO_LARGE, `the dump is over the receiver's --max-size of ${this.maxSize} bytes`);
    }
    await this.pwrite(bytes, this.written);
    this.written += bytes.length;
  }

  /** Writes anywhere (the kdump format's header and bitmaps come last); the dump's size is the end of the furthest write. */
  async writeAt(offset: number, bytes: Buffer): Promise<void> {
    const end = offset + bytes.length;
    if (end > this.maxSize) throw new TransferRefused(ErrorCode.TOO_LARGE, `the dump is over the receiver's --max-size of ${this.maxSize} bytes`);
    await this.pwrite(bytes, offset);
    this.written = Math.max(this.written, end);
  }

  /** Patches only rewrite bytes already received, as a file sink's notes are rewritten after the data. */
  async patch(offset: number, bytes: Buffer): Promise<void> {
    if (offset + bytes.length > this.written) {
      throw new TransferRefused(ErrorCode.PROTOCOL, `a patch of ${bytes.length} bytes at offset ${offset} runs past the ${this.written} bytes received`);
    }
    await this.pwrite(bytes, offset);
  }

  async sync(): Promise<void> {
    await this.io('fsync', () => this.handle.sync());
  }

  /** Renames NAME.incomplete to NAME and makes the rename durable; call only after sync() and verification. */
  async publish(): Promise<void> {
    await this.close();
    if (await exists(this.finalPath)) throw new TransferRefused(ErrorCode.NAME_EXISTS, `a dump named ${this.name} appeared while this one was received`);
    await this.io('rename', () => rename(this.tempPath, this.finalPath));
    await this.io('fsync the directory', async () => {
      const dir = await open(path.dirname(this.finalPath), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    });
  }

  /** A failed or cut transfer leaves nothing behind: the unverified file is deleted. */
  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  private async pwrite(bytes: Buffer, position: number): Promise<void> {
    await this.io('write', async () => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, position + done);
        done += bytesWritten;
      }
    });
  }

  private async io(what: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (err) {
      throw new TransferRefused(ErrorCode.RECEIVER_IO, `${what} ${this.name}${INCOMPLETE_SUFFIX} failed on the receiver: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
}

/** The receiver's --dir: NAME.incomplete beside the dumps, renamed once verified. */
export async function directoryStore(dir: string, maxSize?: number): Promise<DumpStore & { tightened: boolean }> {
  const { tightened } = await prepareDumpDirectory(dir);
  return { tightened, describe: `writing to ${dir}`, open: ({ name }) => IncomingDump.create(dir, name, maxSize) };
}
