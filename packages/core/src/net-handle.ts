// net.Sockets that read from their descriptor only when asked to.
//
// `Socket.id` may be handed to OpenSSL (`SSL.set_fd`), which then reads the
// descriptor itself; a socket that libuv keeps reading would steal its bytes.
// node:net reads eagerly unless a socket is made with `onread` (Node's
// "user buffer" mode), where `pause()` stops libuv at once (readStop) and
// `read(0)` starts it again: no bytes are read that nobody asked for. A
// client socket is made that way and paused before it connects (net then
// never starts reading); an accepted socket, which net.Server makes in the
// eager mode, has its handle moved into a new socket made that way.
import * as net from 'node:net';

/** Called with each chunk read; `buf` is reused, copy what you keep. Return false to stop reading. */
export type ChunkCallback = (length: number, buf: Buffer) => boolean;

/** Shared by every socket: each chunk is consumed (copied or fed to OpenSSL) before the next read. */
const sharedReadBuffer = Buffer.allocUnsafe(64 * 1024);

/** The libuv handle fields this file relies on (Node's TCPWrap). */
interface TcpHandle {
  fd?: number;
  reading?: boolean;
}

const handleOf = (socket: net.Socket | net.Server): TcpHandle | null =>
  ((socket as unknown as { _handle?: TcpHandle | null })._handle ?? null);

/**
 * `new net.Socket()` options for the user-buffer read mode. `onread` is
 * documented for the constructor since Node 12 but missing from its typings.
 */
function userBufferOptions(onChunk: ChunkCallback): net.SocketConstructorOpts {
  const onread = { buffer: sharedReadBuffer, callback: (n: number, buf: Uint8Array) => onChunk(n, buf as Buffer) };
  return { onread } as net.SocketConstructorOpts;
}

/** A new client socket that will not read until `startReading`. Connect it yourself. */
export function createPausedSocket(onChunk: ChunkCallback): net.Socket {
  const socket = new net.Socket(userBufferOptions(onChunk));
  // Paused before connect: net's afterConnect then skips its read(0).
  socket.pause();
  return socket;
}

/**
 * Moves an accepted socket's handle (accepted with `pauseOnConnect`, so not
 * yet reading) into a socket in the user-buffer mode, which reads into a
 * shared buffer (no Buffer per read) and only once `startReading` is called:
 * server sockets get the same read path as client ones. The accepted socket
 * stays, inert and handle-less, until the new one closes, so its server
 * still counts the connection (`server.close()` waits for it); code that
 * tracks the server's 'connection' sockets and destroys them at shutdown
 * holds the accepted one, so destroying it closes the new one too.
 */
export function adoptAcceptedSocket(accepted: net.Socket, onChunk: ChunkCallback): net.Socket {
  const holder = accepted as unknown as { _handle: unknown };
  const handle = holder._handle;
  if (!handle) throw new Error('accepted socket has no handle');
  const socket = new net.Socket({
    ...userBufferOptions(onChunk),
    handle,
    readable: true,
    writable: true,
    pauseOnCreate: true,
  } as net.SocketConstructorOpts);
  holder._handle = null;
  carryPrelude(accepted, socket, onChunk);
  socket.once('close', () => accepted.destroy());
  accepted.once('close', () => socket.destroy());
  return socket;
}

/**
 * What a gate in front of an accept handler (the PROXY protocol reader)
 * learned before handing the accepted socket on: bytes it read past what it
 * consumed, and the peer the socket should report instead of its own.
 */
export interface AcceptedPrelude {
  head?: Buffer;
  peer?: { address: string; port: number; family: string };
}

const preludes = new WeakMap<net.Socket, AcceptedPrelude>();
const heads = new WeakMap<net.Socket, { head: Buffer; onChunk: ChunkCallback }>();

/** Leaves `prelude` for the socket `adoptAcceptedSocket(accepted)` will make. */
export function setAcceptedPrelude(accepted: net.Socket, prelude: AcceptedPrelude): void {
  preludes.set(accepted, prelude);
}

/** The peer as own properties (net's getters ask the kernel); the head for startReading. */
function carryPrelude(accepted: net.Socket, socket: net.Socket, onChunk: ChunkCallback): void {
  const prelude = preludes.get(accepted);
  if (!prelude) return;
  preludes.delete(accepted);
  const { peer, head } = prelude;
  if (peer)
    Object.defineProperties(socket, {
      remoteAddress: { value: peer.address, configurable: true },
      remotePort: { value: peer.port, configurable: true },
      remoteFamily: { value: peer.family, configurable: true },
    });
  if (head && head.length > 0) heads.set(socket, { head, onChunk });
}

/** Starts libuv reading (no-op while connecting: it starts once connected). */
export function startReading(socket: net.Socket): void {
  if (socket.destroyed) return;
  const prelude = heads.get(socket);
  if (prelude) {
    // Bytes a gate read first go to the reader before any new read.
    heads.delete(socket);
    if (!prelude.onChunk(prelude.head.length, prelude.head) || socket.destroyed) return;
  }
  const h = handleOf(socket);
  if (socket.connecting || (h && !h.reading)) socket.read(0);
}

/** Stops libuv reading at once. */
export function stopReading(socket: net.Socket): void {
  if (!socket.destroyed) socket.pause();
}

/** True while libuv reads the descriptor. */
export function isReading(socket: net.Socket): boolean {
  return handleOf(socket)?.reading === true;
}

/** The OS descriptor of a socket or server, or -1 when it has none. */
export function descriptorOf(socket: net.Socket | net.Server | undefined): number {
  if (!socket) return -1;
  const fd = handleOf(socket)?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}
