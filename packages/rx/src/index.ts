// @rxtls/rx: TLS connections as rxjs Observables, with backpressure.
export { listen } from './listen.js';
export { connect } from './connect.js';
export { read } from './read.js';
export { write, type Chunk } from './write.js';
export { writeFrom } from './write-from.js';
export { TlsConnection } from './connection.js';
export type { TlsOptions, ListenOptions, ConnectOptions, ReadOptions, RemoteAddress } from './options.js';
