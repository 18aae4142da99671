// Session ticket keys shared by servers that should resume each other's
// sessions (several processes or machines behind one address).
import { randomBytes } from 'node:crypto';

import { InvalidArgumentError } from './errors.js';
import { TICKET_KEY_LENGTH } from './context-features.js';

/**
 * Fresh random ticket keys for `SSLContext.set_ticket_keys` / the `ticketKeys`
 * server option: `count` keys of 80 bytes (16-byte name, 32-byte HMAC key,
 * 32-byte AES key), concatenated. Give every server the same bytes.
 *
 * Rotation: `Buffer.concat([generateTicketKeys(), current])` makes the new key
 * the one that seals tickets while tickets sealed with the old one still
 * resume (and are re-issued); drop the old key after the ticket lifetime.
 *
 * @example
 * const keys = generateTicketKeys();
 * createTlsServer({ cert, key, ticketKeys: keys }, onConnection);
 */
export function generateTicketKeys(count = 1): Buffer {
  if (!Number.isInteger(count) || count < 1 || count > 64)
    throw new InvalidArgumentError('Expected "count" to be an integer from 1 to 64');
  return randomBytes(TICKET_KEY_LENGTH * count);
}
