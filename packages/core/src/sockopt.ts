// setsockopt(2)/getsockopt(2) through the addon: SO_SNDBUF and SO_RCVBUF,
// which node:net does not offer for TCP, and reading back the flags node:net
// sets (SO_KEEPALIVE, TCP_NODELAY, SO_REUSEADDR) from the kernel itself.
import { IPPROTO_TCP, SOL_SOCKET, TCP_NODELAY } from './constants.js';
import { StateError } from './errors.js';
import { binding } from './native.js';

interface SockoptBinding {
  setsockopt?: (fd: number, level: number, name: number, value: number) => void;
  getsockopt?: (fd: number, level: number, name: number) => number;
}

export interface Sockopt {
  set(fd: number, option: number, value: number): void;
  get(fd: number, option: number): number;
}

/** The option level of one of the accepted option numbers (they do not collide, see constants.ts). */
const levelOf = (option: number) => (option === TCP_NODELAY ? IPPROTO_TCP : SOL_SOCKET);

/** True when the addon has the socket-option calls. */
export function hasNativeSockopt(): boolean {
  const b = binding as unknown as SockoptBinding;
  return typeof b.setsockopt === 'function' && typeof b.getsockopt === 'function';
}

/** The addon's socket-option calls, or a StateError saying they are missing (an addon built before they existed). */
export function nativeSockopt(): Sockopt {
  const b = binding as unknown as SockoptBinding;
  const set = b.setsockopt;
  const get = b.getsockopt;
  if (typeof set !== 'function' || typeof get !== 'function')
    throw new StateError('SO_SNDBUF and SO_RCVBUF need setsockopt, which this build of @rxtls/native does not provide');
  return {
    set: (fd, option, value) => set.call(binding, fd, levelOf(option), option, value),
    get: (fd, option) => get.call(binding, fd, levelOf(option), option),
  };
}
