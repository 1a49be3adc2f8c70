// Where the receiver keeps the dumps it is sent: a directory (receiver-file.ts) or an S3 bucket (receiver-s3.ts).

/** One dump being received: nothing is visible under its name until publish(); discard() leaves nothing. */
export interface IncomingTarget {
  /** The dump's size so far: the end of the furthest byte written. */
  readonly size: number;
  append(bytes: Buffer): Promise<void>;
  /** Protocol version 2 only (the kdump format): a write anywhere. */
  writeAt(offset: number, bytes: Buffer): Promise<void>;
  /** Rewrites bytes already received. */
  patch(offset: number, bytes: Buffer): Promise<void>;
  /** Everything received is stored durably (not yet under its name). */
  sync(): Promise<void>;
  /** Makes the dump visible under its name; call after sync() and the checksum. */
  publish(): Promise<void>;
  discard(): Promise<void>;
}

export interface IncomingTransfer {
  name: string;
  /** Protocol version 2: the dump comes as positioned writes (WRITE_AT), not in order. */
  positioned: boolean;
  /** The sender's own host name (HELLO), and its address. */
  hostname: string;
  peer: string;
}

export interface DumpStore {
  /** For the receiver's first line: "writing to DIR", "storing into s3://BUCKET/PREFIX". */
  describe: string;
  /** Refuses (TransferRefused) a name that is taken, already in flight, or that leaves the store. */
  open(transfer: IncomingTransfer): Promise<IncomingTarget>;
  /** Once the receiver has stopped: lets go of what the store holds open (the S3 client's sockets). */
  close?(): void;
}
