// Promise wrappers over a connection (TlsEngine or NativeTlsConnection) for tests.
import {
  connectTls,
  type ClientOptions,
  type NativeTlsConnection,
  type NativeTransportOptions,
  type SecureConnection,
  type TlsEngine,
  type TlsError,
} from '@rxtls/core';

/** Resolves when the handshake is done; rejects with the connection's error. */
export function whenSecure<C extends SecureConnection>(engine: C): Promise<C> {
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

/** Connects (the native transport unless `transport: 'js'`) and waits for the handshake. */
export function connect(options: ClientOptions & { transport: 'js' }): Promise<TlsEngine>;
export function connect(
  options: ClientOptions & { transport?: 'native' | undefined } & NativeTransportOptions,
): Promise<NativeTlsConnection>;
export function connect(options: ClientOptions & NativeTransportOptions): Promise<SecureConnection>;
export function connect(options: ClientOptions & NativeTransportOptions): Promise<SecureConnection> {
  return whenSecure(connectTls(options));
}

export interface Collected {
  data: Buffer;
  /** True when the stream ended with close_notify. */
  clean: boolean;
  error: TlsError | undefined;
}

/** Collects all plaintext until the connection closes. */
export function collect(engine: SecureConnection): Promise<Collected> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let clean = false;
    engine.ondata = (c) => chunks.push(c);
    engine.onend = () => (clean = true);
    engine.onclose = (error) => resolve({ data: Buffer.concat(chunks), clean, error });
  });
}
