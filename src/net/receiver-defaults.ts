// The receiver's default limits, apart from the server so that the CLI can show them without loading it.

export const DEFAULT_MAX_CONNECTIONS = 16;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
