// How native-transport connections end: clean close_notify both ways,
// truncation, handshake and idle timeouts, a peer reset; JS calling destroy,
// write, end or server.close from inside every callback; backpressure with a
// slow reader; AsyncLocalStorage in every callback.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';

import { SocketError, type NativeTlsConnection, type TlsError } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connectNativeTls, outcome, secure, startNative, type NativeServer } from '../helpers/native-transport.js';
import { sleep, withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();

async function until(check: () => boolean, label: string, ms = 10_000): Promise<void> {
  await withTimeout(
    new Promise<void>((resolve) => {
      const poll = () => (check() ? resolve() : setTimeout(poll, 5));
      poll();
    }),
    ms,
    label,
  );
}

/** A node:tls client over a plain socket we can end without close_notify. */
async function rawTlsClient(port: number): Promise<{ raw: net.Socket; sock: tls.TLSSocket }> {
  const raw = net.connect(port, '127.0.0.1');
  const sock = tls.connect({ socket: raw, servername: 'localhost', ca: p.ca.cert });
  sock.on('error', () => {});
  raw.on('error', () => {});
  await withTimeout(new Promise<void>((r) => sock.once('secureConnect', () => r())), 10_000, 'secureConnect');
  return { raw, sock };
}

const ends = suite<{ srv?: NativeServer }>('native transport: how connections end');
ends.after.each(async (ctx) => {
  await ctx.srv?.close();
  ctx.srv = undefined;
});

ends('clean close_notify both ways: both sides see onend, no error', async (ctx) => {
  let server: Promise<{ clean: boolean; error: TlsError | undefined; data: Buffer }> | undefined;
  ctx.srv = await startNative({ ...p.server }, (c) => {
    server = outcome(c);
    c.write('bye');
    c.end();
  });
  const r = await outcome(connectNativeTls({ host: 'localhost', port: ctx.srv.port, ca: p.ca.cert }));
  assert.is(r.data.toString(), 'bye');
  assert.ok(r.clean);
  assert.is(r.error, undefined);
  await until(() => server !== undefined, 'handler');
  const s = await server!;
  assert.ok(s.clean, 'the client answered close_notify');
  assert.is(s.error, undefined);
});

ends('truncation: a TCP end without close_notify is a TruncationError', async (ctx) => {
  let server: ReturnType<typeof outcome> | undefined;
  ctx.srv = await startNative({ ...p.server }, (c) => (server = outcome(c)));
  const { raw, sock } = await rawTlsClient(ctx.srv.port);
  sock.write('partial');
  await until(() => server !== undefined, 'handler');
  await sleep(20);
  raw.end(); // FIN, no close_notify
  const s = await server!;
  assert.is(s.data.toString(), 'partial');
  assert.is(s.error?.code, 'ERR_TLS_TRUNCATED');
  assert.is(s.error?.name, 'TruncationError');
  sock.destroy();
});

ends('truncation seen by a native client', async () => {
  const server = net.createServer((raw) => {
    const t = new tls.TLSSocket(raw, { isServer: true, ...p.server });
    t.on('error', () => {});
    t.on('secure', () => t.write('cut', () => raw.end()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const r = await outcome(connectNativeTls({ host: 'localhost', port: (server.address() as net.AddressInfo).port, ca: p.ca.cert }));
    assert.is(r.data.toString(), 'cut');
    assert.is(r.error?.code, 'ERR_TLS_TRUNCATED');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

ends('handshake timeout (server): a silent client is dropped and reported to tlsClientError', async (ctx) => {
  ctx.srv = await startNative({ ...p.server, handshakeTimeout: 150 });
  const raw = net.connect(ctx.srv.port, '127.0.0.1');
  raw.on('error', () => {});
  await withTimeout(new Promise((r) => raw.once('close', r)), 5_000, 'server drops the silent client');
  assert.is(ctx.srv.clientErrors[0]?.code, 'ERR_TLS_TIMEOUT');
  assert.match(ctx.srv.clientErrors[0]!.message, 'timed out after 150 ms');
  assert.is(ctx.srv.connections.length, 0, 'the handler never saw it');
});

ends('handshake timeout (client): a server that never answers', async () => {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const r = await outcome(connectNativeTls({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ca: p.ca.cert, handshakeTimeout: 150 }));
    assert.is(r.error?.code, 'ERR_TLS_TIMEOUT');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

ends('idle timeout: an established connection with no traffic fails with a TimeoutError', async (ctx) => {
  let server: ReturnType<typeof outcome> | undefined;
  ctx.srv = await startNative({ ...p.server, idleTimeout: 150 }, (c) => (server = outcome(c)));
  const c = await secure(connectNativeTls({ host: 'localhost', port: ctx.srv.port, ca: p.ca.cert }));
  // Activity keeps it alive past the timeout.
  for (let i = 0; i < 4; i++) {
    c.write('tick');
    await sleep(60);
  }
  assert.is(c.closed, false);
  await until(() => server !== undefined, 'handler');
  const s = await server!;
  assert.is(s.error?.code, 'ERR_TLS_TIMEOUT');
  assert.match(s.error!.message, 'idle for more than 150 ms');
  assert.is(s.data.toString(), 'ticktickticktick');
});

ends('peer reset: a SocketError with the syscall code, heard by onerror then onclose', async (ctx) => {
  let server: ReturnType<typeof outcome> | undefined;
  const heard: Array<[string, TlsError | undefined]> = [];
  ctx.srv = await startNative({ ...p.server }, (c) => {
    server = outcome(c);
    c.onerror = (e) => heard.push(['error', e]);
    const onclose = c.onclose!;
    c.onclose = (e) => {
      heard.push(['close', e]);
      onclose(e);
    };
  });
  const { raw, sock } = await rawTlsClient(ctx.srv.port);
  await until(() => server !== undefined, 'handler');
  raw.resetAndDestroy();
  const s = await server!;
  assert.instance(s.error, SocketError);
  assert.is(s.error?.code, 'ERR_TLS_SOCKET');
  assert.is(s.error?.message, 'read ECONNRESET: connection reset by peer');
  assert.is((s.error as TlsError & { syscallCode?: string }).syscallCode, 'ECONNRESET');
  assert.equal(heard.map(([what]) => what), ['error', 'close']);
  assert.is(heard[0]![1], heard[1]![1]);
  sock.destroy();
});

ends('a refused connect is a SocketError on the client (onerror, then onclose)', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const n = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(n));
    });
  });
  const c = connectNativeTls({ host: '127.0.0.1', port, ca: p.ca.cert });
  const order: string[] = [];
  c.onerror = (e) => order.push(`error ${e.code}`);
  const r = await outcome(c);
  assert.is(r.error?.code, 'ERR_TLS_SOCKET');
  assert.equal(order, ['error ERR_TLS_SOCKET']);
  assert.throws(() => c.write('x'), (e: TlsError) => e.code === 'ERR_TLS_SOCKET');
});

ends.run();

// --- re-entrancy: anything from inside any callback ---------------------------

type Action = 'destroy' | 'write' | 'end' | 'closeServer' | 'writeThenDestroy';
const ACTIONS: Action[] = ['destroy', 'write', 'end', 'closeServer', 'writeThenDestroy'];
const CALLBACKS = ['handler', 'onsecure', 'ondata', 'onend', 'onclose'] as const;

const reentry = suite('native transport: re-entrancy');

for (const where of CALLBACKS) {
  reentry(`server side: ${ACTIONS.join(', ')} from inside ${where}`, async () => {
    for (const action of ACTIONS) {
      const closes: Array<TlsError | undefined> = [];
      const thrown: string[] = [];
      let serverClosed = false;
      const srv = await startNative({ ...p.server }, (c) => {
        const act = () => {
          try {
            if (action === 'destroy') c.destroy();
            else if (action === 'write') c.write('from ' + where);
            else if (action === 'end') c.end();
            else if (action === 'closeServer') srv.server.close(() => (serverClosed = true));
            else {
              c.write('x');
              c.destroy();
              c.write('after destroy');
            }
          } catch (e) {
            thrown.push((e as TlsError).code);
          }
        };
        c.onclose = (e) => {
          closes.push(e);
          if (where === 'onclose') act();
        };
        if (where === 'handler') act();
        if (where === 'onsecure') c.onsecure = act;
        c.ondata = (d) => {
          if (where === 'ondata') act();
          else if (!c.closed && c.error === undefined) {
            try {
              c.write(d);
            } catch (e) {
              thrown.push((e as TlsError).code); // ended by the action already
            }
          }
        };
        if (where === 'onend') c.onend = act;
      });
      const client = connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert, allowHalfOpen: true });
      client.onerror = () => {};
      // What the server wrote is the cue to finish.
      client.ondata = () => client.end();
      client.onend = () => client.end(); // half-open: the client ends when told to
      await secure(client).catch(() => {});
      if (!client.closed) {
        try {
          client.write('ping');
          // A closed server keeps its connections (as net): the client ends this one.
          if (where === 'onend' || where === 'onclose' || action === 'closeServer') setTimeout(() => client.end(), 50);
        } catch {
          /* already closed by the server */
        }
      }
      await withTimeout(new Promise<void>((r) => (client.closed ? r() : (client.onclose = () => r()))), 10_000, `${where}/${action}: client close`);
      await until(() => closes.length > 0, `${where}/${action}: server connection closes`);
      await sleep(10);
      assert.is(closes.length, 1, `${where}/${action}: onclose exactly once`);
      if (action === 'writeThenDestroy') assert.ok(thrown.length > 0 && thrown.every((c) => c === 'ERR_TLS_STATE' || c === 'ERR_TLS_CLOSED'), `${where}: write after destroy throws (${thrown})`);
      if (action === 'closeServer') await until(() => serverClosed, `${where}: server close`);
      else await srv.close();
    }
  });
}

reentry('client side: destroy / end / write from inside onsecure, ondata, onclose', async () => {
  const srv = await startNative({ ...p.server });
  try {
    for (const where of ['onsecure', 'ondata', 'onclose'] as const) {
      for (const action of ['destroy', 'end', 'write'] as const) {
        const c = connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert });
        let closes = 0;
        const act = () => {
          try {
            if (action === 'write') c.write('again');
            else c[action]();
          } catch (e) {
            assert.ok(['ERR_TLS_STATE', 'ERR_TLS_CLOSED'].includes((e as TlsError).code), String(e));
          }
        };
        c.onsecure = () => {
          c.write('hello');
          if (where === 'onsecure') act();
        };
        c.ondata = () => {
          if (where === 'ondata') act();
          else c.destroy();
        };
        c.onclose = () => {
          closes++;
          if (where === 'onclose') act();
        };
        c.onerror = () => {};
        if (where === 'onsecure' && action === 'write') setTimeout(() => c.destroy(), 50);
        if (where === 'ondata' && action === 'write') setTimeout(() => c.destroy(), 50);
        if (where === 'ondata' && action === 'end') setTimeout(() => c.destroy(), 200);
        await until(() => closes > 0, `${where}/${action}`);
        await sleep(5);
        assert.is(closes, 1);
      }
    }
  } finally {
    await srv.close();
  }
});

reentry.run();

// --- backpressure ---------------------------------------------------------------

const flow = suite('native transport: backpressure');

flow('a slow reader: a server that honours write() buffers at most about one high-water mark; all data arrives', async () => {
  const TOTAL = 8 * 1024 * 1024;
  let maxBuffered = 0;
  let sent = 0;
  const srv = await startNative({ ...p.server, highWaterMark: 64 * 1024 }, (c) => {
    const chunk = randomBytes(16 * 1024);
    const pump = () => {
      while (sent < TOTAL) {
        sent += chunk.length;
        const more = c.write(chunk);
        maxBuffered = Math.max(maxBuffered, c.bufferedAmount);
        if (!more) return;
      }
      c.end();
    };
    c.ondrain = pump;
    pump();
  });
  try {
    const client = connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert });
    let got = 0;
    client.ondata = (d) => {
      got += d.length;
      // Slow: stop for a while every 512 KiB.
      if (got % (512 * 1024) < d.length) {
        client.pause();
        setTimeout(() => client.resume(), 20);
      }
    };
    await withTimeout(new Promise<void>((r) => (client.onclose = () => r())), 60_000, 'transfer');
    assert.is(got, TOTAL);
    assert.ok(maxBuffered < 64 * 1024 + 2 * 16 * 1024 + 1024, `server buffered at most ${maxBuffered} bytes`);
  } finally {
    await srv.close();
  }
});

flow('a handler that ignores write(): the server stops reading, so its buffer stays bounded', async () => {
  let maxBuffered = 0;
  let server: NativeTlsConnection | undefined;
  const srv = await startNative({ ...p.server, highWaterMark: 64 * 1024 }, (c) => {
    server = c;
    c.ondata = (d) => {
      c.write(d); // an echo that never waits for drain
      maxBuffered = Math.max(maxBuffered, c.bufferedAmount);
    };
  });
  try {
    const client = await secure(connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert }));
    client.pause(); // never reads the echo
    const chunk = randomBytes(64 * 1024);
    let written = 0;
    // Write until the client's own buffer says stop and stays stopped.
    for (let round = 0; round < 200; round++) {
      while (client.write(chunk)) written += chunk.length;
      written += chunk.length;
      const drained = await Promise.race([new Promise<boolean>((r) => (client.ondrain = () => r(true))), sleep(200).then(() => false)]);
      if (!drained) break;
    }
    assert.ok(written > 4 * 1024 * 1024, `the client could write ${written} bytes before the kernel buffers filled`);
    assert.ok(server !== undefined);
    assert.ok(maxBuffered < 1024 * 1024, `the server buffered at most ${maxBuffered} bytes of ${written}`);
    client.destroy();
  } finally {
    await srv.close();
  }
});

flow.run();

// --- AsyncLocalStorage ------------------------------------------------------------

const als = suite('native transport: async context');

als('AsyncLocalStorage set around listen/connect is seen in the handler, onsecure, ondata, onclose', async () => {
  const store = new AsyncLocalStorage<string>();
  const seen: string[] = [];
  const note = (what: string) => seen.push(`${what}=${store.getStore() ?? 'none'}`);
  let srv!: NativeServer;
  await store.run('server', async () => {
    srv = await startNative({ ...p.server }, (c) => {
      note('handler');
      c.onsecure = () => note('server.onsecure');
      c.ondata = (d) => {
        note('server.ondata');
        c.write(d);
        c.end();
      };
      c.onclose = () => note('server.onclose');
    });
  });
  try {
    const done = store.run('client', () => {
      const c = connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert });
      c.onsecure = () => {
        note('client.onsecure');
        c.write('x');
      };
      c.ondata = () => note('client.ondata');
      return new Promise<void>((r) => (c.onclose = () => (note('client.onclose'), r())));
    });
    await withTimeout(done, 10_000, 'exchange');
    await until(() => seen.includes('server.onclose=server'), 'server onclose');
    for (const s of seen) assert.ok(s.endsWith('=server') || s.endsWith('=client'), s);
    assert.ok(seen.includes('handler=server') && seen.includes('server.ondata=server'));
    assert.ok(seen.includes('client.onsecure=client') && seen.includes('client.ondata=client') && seen.includes('client.onclose=client'));
  } finally {
    await srv.close();
  }
});

als('a promise resolved in ondata continues before the connection is closed (microtasks run after each callback)', async () => {
  const order: string[] = [];
  const srv = await startNative({ ...p.server }, (c) => {
    c.ondata = () => {
      order.push('data');
      void Promise.resolve().then(() => order.push('then'));
      c.destroy();
    };
    c.onclose = () => order.push('close');
  });
  try {
    const c = await secure(connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert }));
    c.onerror = () => {};
    c.write('go');
    await until(() => order.includes('close'), 'close');
    assert.equal(order, ['data', 'then', 'close']);
  } finally {
    await srv.close();
  }
});

als.run();
