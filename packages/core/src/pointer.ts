import { inspect } from 'node:util';

/**
 * An opaque handle to a native OpenSSL object or method, as the documented
 * API's `ptr` values are: method constants (`TLS_method`, …) and what
 * `get_pointer()` returns. Compare handles with `equals`; the address is for
 * diagnostics only and is never dereferenced from JS.
 */
export class Pointer {
  /**
   * @param kind What the address points to: `SSL_METHOD`, `SSL_CTX`, `SSL`, `BIO_METHOD`, `BIO`.
   * @param address The native address.
   */
  constructor(
    readonly kind: string,
    readonly address: bigint,
  ) {
    Object.freeze(this);
  }

  /** True when both handles name the same native object. */
  equals(other: Pointer): boolean {
    return other instanceof Pointer && other.kind === this.kind && other.address === this.address;
  }

  toString(): string {
    return `<ptr ${this.kind} 0x${this.address.toString(16)}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
