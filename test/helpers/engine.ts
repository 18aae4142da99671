// Promise wrappers over TlsEngine for tests.
import { connectTls, type ClientOptions, type TlsEngine, type TlsError } from '@rxtls/core';

/** Resolves when the handshake is done; rejects with the engine's error. */
export function whenSecure(engine: TlsEngine): Promise<TlsEngine> {
  return new Promise((resolve, reject) => {
    if (engine.secure) return resolve(engine);
    const prevSecure = engine.onsecure;
    const prevError = engine.onerror;
    engine.onsecure = () => {
      prevSecure?.();
      resolve(engine);
    };
    engine.onerror = (err) => {
      prevError?.(err);
      reject(err);
    };
  });
}

/** Connects and waits for the handshake. */
export function connect(options: ClientOptions): Promise<TlsEngine> {
  return whenSecure(connectTls(options));
}

export interface Collected {
  data: Buffer;
  /** True when the stream ended with close_notify. */
  clean: boolean;
  error: TlsError | undefined;
}

/** Collects all plaintext until the connection closes. */
export function collect(engine: TlsEngine): Promise<Collected> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let clean = false;
    engine.ondata = (c) => chunks.push(c);
    engine.onend = () => (clean = true);
    engine.onclose = (error) => resolve({ data: Buffer.concat(chunks), clean, error });
  });
}
