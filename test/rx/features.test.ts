// The TLS features of @rxtls/core reached through the rx options and
// TlsConnection: ALPN, resumption (with ticket keys shared by two servers),
// client certificates, SNI, keylog, exported keying material and
// post-handshake authentication. Peers: openssl s_client, node:tls, rx itself.
// On each transport.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as tls from 'node:tls';

import {
  generateTicketKeys,
  SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
  SSL_VERIFY_PEER,
  SSL_VERIFY_POST_HANDSHAKE,
  TLSServerContext,
  type CertificateAndKey,
  type TlsError,
  type Transport,
} from '@rxtls/core';
import { connect, listen, read, write, type ConnectOptions, type ListenOptions, type TlsConnection } from '@rxtls/rx';
import {
  catchError,
  concat,
  defer,
  EMPTY,
  filter,
  firstValueFrom,
  from,
  ignoreElements,
  lastValueFrom,
  map,
  merge,
  mergeMap,
  of,
  share,
  take,
  tap,
  toArray,
  type Observable,
  type Subscription,
} from 'rxjs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { TRANSPORTS } from './fixtures/transports.js';

const p = pki();

/** A running listen(): the connections it emitted and the clients that failed. */
interface Server {
  port: number;
  conns: TlsConnection[];
  clientErrors: TlsError[];
  /** The next emitted connection. */
  next(): Promise<TlsConnection>;
  stop(): void;
}

/** Says what was negotiated, then echoes until the client's close_notify. */
const greetAndEcho = (c: TlsConnection): Observable<unknown> =>
  concat(
    of(`alpn=${c.alpnProtocol ?? '-'} resumed=${c.resumed} sni=${c.servername ?? '-'} client=${c.peerCertificate?.subject.CN ?? 'none'}\n`),
    read(c),
  ).pipe(write(c));

function serveWith(options: Omit<ListenOptions, 'port' | 'onListening' | 'onClientError'>, handle = greetAndEcho): Promise<Server> {
  return new Promise((resolve, reject) => {
    const waiters: ((c: TlsConnection) => void)[] = [];
    const queue: TlsConnection[] = [];
    let sub: Subscription | undefined;
    const s: Server = {
      port: 0,
      conns: [],
      clientErrors: [],
      next: () => new Promise((r) => (queue.length > 0 ? r(queue.shift()!) : waiters.push(r))),
      stop: () => sub?.unsubscribe(),
    };
    sub = listen({
      ...options,
      onListening: (a) => ((s.port = a.port), resolve(s)),
      onClientError: (err) => s.clientErrors.push(err),
    })
      .pipe(
        tap((c) => {
          s.conns.push(c);
          if (waiters.length > 0) waiters.shift()!(c);
          else queue.push(c);
        }),
        // A connection's failure is the test's to check, not the server's end.
        mergeMap((c) => handle(c).pipe(catchError(() => EMPTY))),
      )
      .subscribe({ error: reject });
  });
}

const clientWith = (port: number, extra: Partial<ConnectOptions>) =>
  withTimeout(firstValueFrom(connect({ port, ca: p.ca.cert, ...extra })), 10_000, 'connect');

/** Sends `input` and close_notify, reads until the server's close_notify: the text received. */
const talk = (conn: TlsConnection, input: string[] = []) =>
  withTimeout(
    lastValueFrom(merge(of(...input).pipe(write(conn), ignoreElements()), read(conn)).pipe(toArray())),
    10_000,
    'exchange',
  ).then((chunks) => Buffer.concat(chunks).toString());

const sClient = (port: number, args: string[]) =>
  withTimeout(runSClient(port, ['-CAfile', p.file('ca', 'crt'), ...args], 'Q\n'), 20_000, 's_client');

async function until(cond: () => boolean, label: string): Promise<void> {
  await withTimeout(
    new Promise<void>((resolve) => {
      const check = () => (cond() ? resolve() : setTimeout(check, 10));
      check();
    }),
    10_000,
    label,
  );
}

function contextOf(pair: CertificateAndKey): TLSServerContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(pair.cert, pair.key);
  return ctx;
}

/** Asks for the client's certificate when the client says "auth", and reports it. */
const phaHandler = (c: TlsConnection): Observable<unknown> =>
  read(c).pipe(
    filter((chunk) => chunk.includes('auth')),
    mergeMap(() =>
      concat(
        of(`before=${c.peerCertificate?.subject.CN ?? 'none'}\n`),
        defer(() => c.verifyClientPostHandshake()).pipe(map((cert) => `after=${cert?.subject.CN ?? 'none'} now=${c.peerCertificate?.subject.CN}\n`)),
      ),
    ),
    write(c),
  );

function phaContext(): TLSServerContext {
  const ctx = contextOf(p.server);
  ctx.set_verify_locations(p.ca.cert);
  // Verify what the client sends, but ask only after the handshake.
  ctx.set_verify(SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE);
  return ctx;
}

for (const transport of TRANSPORTS) {
  const features = suite<{ srv: Server[] }>(`rx: TLS features [${transport}]`, { srv: [] });
  const serve = (options: Parameters<typeof serveWith>[0], handle?: (c: TlsConnection) => Observable<unknown>) => serveWith({ ...options, transport }, handle);
  const client = (port: number, extra: Partial<ConnectOptions> = {}) => clientWith(port, { transport, ...extra });
  features.after.each((ctx) => {
    for (const s of ctx.srv) s.stop();
    ctx.srv = [];
  });

  // ---
  features('ALPN: rx listen picks its preferred protocol for openssl s_client -alpn; no common one is refused', async (ctx) => {
    const srv = await serve({ ...p.server, alpnProtocols: ['h2', 'http/1.1'] });
    ctx.srv.push(srv);
    const r = await sClient(srv.port, ['-alpn', 'http/1.1,h2']);
    assert.match(r.stdout, /ALPN protocol: h2/, r.stdout + r.stderr);
    assert.is((await srv.next()).alpnProtocol, 'h2');

    const refused = await sClient(srv.port, ['-alpn', 'spdy/3']);
    assert.match(refused.stdout + refused.stderr, /no application protocol/i);
    await until(() => srv.clientErrors.length > 0, 'refusal reported');
    assert.is(srv.conns.length, 1);
  });

  features('ALPN: rx connect to a node:tls server with ALPNProtocols', async () => {
    let nodeSide: string | false | null = null;
    const server = tls.createServer({ ...p.server, ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
      nodeSide = s.alpnProtocol;
      s.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const conn = await client((server.address() as { port: number }).port, { alpnProtocols: ['http/1.1'] });
      assert.is(conn.alpnProtocol, 'http/1.1');
      await talk(conn);
      assert.is(nodeSide, 'http/1.1');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  features('resumption: the session of one rx connect resumes the next; the server reports it too', async (ctx) => {
    const srv = await serve({ ...p.server });
    ctx.srv.push(srv);
    const first = await client(srv.port);
    assert.is(first.resumed, false);
    assert.is(first.session, null, 'no TLS 1.3 ticket before anything was read');
    assert.match(await talk(first), /resumed=false/);
    const session = first.session;
    assert.ok(session && session.length > 0, 'the ticket arrived with the data');

    const second = await client(srv.port, { session });
    assert.is(second.resumed, true);
    assert.match(await talk(second), /resumed=true/);
    assert.is((await srv.next()).resumed, false);
    assert.is((await srv.next()).resumed, true);
    // A session of no use (another server's keys) falls back to a full handshake.
    const other = await serve({ ...p.server });
    ctx.srv.push(other);
    const full = await client(other.port, { session });
    assert.is(full.resumed, false);
    await talk(full);
  });

  features('resumption: two rx listen servers sharing ticketKeys resume each other’s sessions', async (ctx) => {
    const ticketKeys = generateTicketKeys();
    const a = await serve({ ...p.server, ticketKeys });
    const b = await serve({ ...p.server, ticketKeys });
    ctx.srv.push(a, b);
    const onA = await client(a.port);
    await talk(onA);
    assert.ok(onA.session);
    const onB = await client(b.port, { session: onA.session! });
    assert.is(onB.resumed, true);
    assert.match(await talk(onB), /resumed=true/);
  });

  features('mTLS: requestCert + ca accepts a client certificate; the chains are reachable', async (ctx) => {
    const srv = await serve({ ...p.server, ca: p.ca.cert, requestCert: true });
    ctx.srv.push(srv);
    const conn = await client(srv.port, { cert: p.client.cert, key: p.client.key });
    const server = await srv.next();
    assert.is(server.peerCertificate?.subject.CN, 'rxtls test client');
    // Leaf first, as sent; verified: up to the CA.
    assert.ok(server.peerCertificateChain()[0]!.raw.equals(certDer(p.client.cert)));
    const verified = server.peerCertificateChain(true);
    assert.is(verified.length, 2);
    assert.ok(verified[1]!.raw.equals(certDer(p.ca.cert)));
    assert.ok(conn.peerCertificateChain(true)[1]!.raw.equals(certDer(p.ca.cert)));
    assert.match(await talk(conn), /client=rxtls test client/);
    await until(() => conn.closed, 'client closed');
    assert.throws(() => conn.peerCertificateChain(), (e: TlsError) => e.code === 'ERR_TLS_CLOSED');
  });

  features('mTLS: requestCert refuses a client without a certificate', async (ctx) => {
    const srv = await serve({ ...p.server, ca: p.ca.cert, requestCert: true });
    ctx.srv.push(srv);
    // TLS 1.3: the client's handshake may finish before the server's verdict,
    // which then arrives as an alert on the connection.
    const outcome = await client(srv.port).then(
      (conn) => talk(conn).then(
        () => undefined,
        (err: TlsError) => err,
      ),
      (err: TlsError) => err,
    );
    assert.ok(outcome, 'the client saw the refusal');
    assert.match(outcome!.message, /certificate/i);
    await until(() => srv.clientErrors.length > 0, 'refusal reported');
    assert.is(srv.conns.length, 0);
  });

  features('SNI: an rx listen sni map picks the certificate openssl s_client -servername asks for', async (ctx) => {
    const srv = await serve({ ...p.server, sni: { 'other.example': contextOf(p.otherHost) } });
    ctx.srv.push(srv);
    const other = await sClient(srv.port, ['-servername', 'other.example']);
    assert.match(other.stdout, /subject=\s*CN\s*=\s*other\.example/, other.stdout);
    assert.match(other.stdout, /Verify return code: 0 \(ok\)/);
    assert.is((await srv.next()).servername, 'other.example');
    const dflt = await sClient(srv.port, ['-servername', 'localhost']);
    assert.match(dflt.stdout, /subject=\s*CN\s*=\s*localhost/, dflt.stdout);
    assert.is((await srv.next()).servername, 'localhost');
  });

  features('keylog: both rx sides log the same NSS key log lines', async (ctx) => {
    const serverLines: string[] = [];
    const clientLines: string[] = [];
    const srv = await serve({ ...p.server, keylog: (line) => serverLines.push(line) });
    ctx.srv.push(srv);
    const conn = await client(srv.port, { keylog: (line) => clientLines.push(line) });
    await talk(conn);
    const labels = clientLines.map((l) => l.split(' ')[0]).sort();
    assert.equal(labels, [
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
      'CLIENT_TRAFFIC_SECRET_0',
      'EXPORTER_SECRET',
      'SERVER_HANDSHAKE_TRAFFIC_SECRET',
      'SERVER_TRAFFIC_SECRET_0',
    ]);
    for (const line of clientLines) assert.match(line, /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,}$/);
    assert.equal([...serverLines].sort(), [...clientLines].sort());
  });

  features('exportKeyingMaterial: equal on both rx sides, different per label and context', async (ctx) => {
    const srv = await serve({ ...p.server });
    ctx.srv.push(srv);
    const conn = await client(srv.port);
    const server = await srv.next();
    const mine = conn.exportKeyingMaterial(32, 'EXPORTER-rxtls-test');
    assert.is(mine.length, 32);
    assert.ok(mine.equals(server.exportKeyingMaterial(32, 'EXPORTER-rxtls-test')));
    const context = Buffer.from('per-use context');
    const withContext = conn.exportKeyingMaterial(32, 'EXPORTER-rxtls-test', context);
    assert.ok(withContext.equals(server.exportKeyingMaterial(32, 'EXPORTER-rxtls-test', context)));
    assert.not.ok(mine.equals(withContext));
    // A short string context (held inside the native argument, not a Buffer): stable and equal on both sides.
    const short = conn.exportKeyingMaterial(32, 'EXPORTER-rxtls-test', 'ctx');
    assert.ok(short.equals(conn.exportKeyingMaterial(32, 'EXPORTER-rxtls-test', 'ctx')), 'same bytes on every call');
    assert.ok(short.equals(server.exportKeyingMaterial(32, 'EXPORTER-rxtls-test', 'ctx')), 'same bytes on both sides');
    assert.not.ok(mine.equals(conn.exportKeyingMaterial(32, 'EXPORTER-other')));
    await talk(conn);
    await until(() => conn.closed, 'client closed');
    assert.throws(() => conn.exportKeyingMaterial(32, 'EXPORTER-rxtls-test'), (e: TlsError) => e.code === 'ERR_TLS_CLOSED');
  });

  features('post-handshake auth: rx listen asks openssl s_client -enable_pha for its certificate', async (ctx) => {
    const srv = await serve({ context: phaContext() }, phaHandler);
    ctx.srv.push(srv);
    const proc = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${srv.port}`, '-CAfile', p.file('ca', 'crt'), '-tls1_3', '-enable_pha', '-cert', p.file('client', 'crt'), '-key', p.file('client', 'key')],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    proc.stdin.on('error', () => {});
    const exited = new Promise((resolve) => proc.once('close', resolve));
    try {
      const server = await withTimeout(srv.next(), 10_000, 'connection');
      assert.is(server.peerCertificate, null);
      proc.stdin.write('auth\n');
      await until(() => /after=/.test(out), 's_client answered');
      assert.match(out, /before=none[\s\S]*after=rxtls test client now=rxtls test client/, out);
      assert.is(server.peerCertificate?.subject.CN, 'rxtls test client');
      // Stdin's end makes s_client send close_notify and exit.
      proc.stdin.end();
      await withTimeout(exited, 10_000, 's_client exit');
    } finally {
      proc.kill('SIGKILL');
    }
  });

  features('post-handshake auth: rx connect with a certificate answers the server; a client cannot ask', async (ctx) => {
    const srv = await serve({ context: phaContext() }, phaHandler);
    ctx.srv.push(srv);
    const conn = await client(srv.port, { cert: p.client.cert, key: p.client.key });
    const err = await conn.verifyClientPostHandshake().catch((e: TlsError) => e);
    assert.is((err as TlsError).code, 'ERR_TLS_STATE');
    // Say "auth", and close only once the answer is in: OpenSSL cannot answer
    // the server's request after this side's close_notify.
    let text = '';
    const incoming = read(conn).pipe(
      tap((chunk) => (text += chunk.toString())),
      share(),
    );
    const answered = incoming.pipe(
      filter(() => text.includes('after=')),
      take(1),
      ignoreElements(),
    );
    await withTimeout(
      lastValueFrom(merge(incoming.pipe(ignoreElements()), concat(of('auth'), answered).pipe(write(conn), ignoreElements())), {
        defaultValue: undefined,
      }),
      10_000,
      'post-handshake exchange',
    );
    assert.is(text, 'before=none\nafter=rxtls test client now=rxtls test client\n');
  });

  features('post-handshake auth: answered with no reader attached; a client without a certificate rejects it', async (ctx) => {
    const context = phaContext();
    context.set_verify(SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
    const outcomes: string[] = [];
    // No read(c): the connection is paused, yet must see the client's answer.
    const askAtOnce = (c: TlsConnection) => {
      const answer = c.verifyClientPostHandshake();
      // Watched here: a failure also errors write(c), which then drops `answer`.
      answer.then(
        (cert) => outcomes.push(`ok ${cert?.subject.CN}`),
        (err: TlsError) => outcomes.push(`error ${err.code}`),
      );
      return from(answer).pipe(
        map((cert) => `after=${cert?.subject.CN}\n`),
        write(c),
      );
    };
    const srv = await serve({ context }, askAtOnce);
    ctx.srv.push(srv);
    const sc = (extra: string[]) => withTimeout(runSClient(srv.port, ['-CAfile', p.file('ca', 'crt'), '-tls1_3', '-enable_pha', '-ign_eof', ...extra]), 20_000, 's_client');
    const good = await sc(['-cert', p.file('client', 'crt'), '-key', p.file('client', 'key')]);
    assert.match(good.stdout, /after=rxtls test client/, good.stdout + good.stderr);
    const bad = await sc([]);
    assert.not.match(bad.stdout, /after=/);
    await until(() => outcomes.length === 2, 'both outcomes');
    assert.is(outcomes[0], 'ok rxtls test client');
    assert.match(outcomes[1]!, /^error ERR_TLS_(HANDSHAKE|PROTOCOL|CERTIFICATE)$/);
  });

  features('fleet: two rx listen servers with one ticketSecret resume each other’s sessions', async (ctx) => {
    const ticketSecret = randomBytes(32);
    const a = await serve({ ...p.server, ticketSecret });
    const b = await serve({ ...p.server, ticketSecret });
    ctx.srv.push(a, b);
    const onA = await client(a.port);
    await talk(onA);
    assert.ok(onA.session);
    const onB = await client(b.port, { session: onA.session! });
    assert.is(onB.resumed, true);
    // Another secret: a full handshake.
    const c = await serve({ ...p.server, ticketSecret: randomBytes(32) });
    ctx.srv.push(c);
    const onC = await client(c.port, { session: onA.session! });
    assert.is(onC.resumed, false);
    await talk(onB);
    await talk(onC);
  });

  features('fleet: a proxyProtocol listener refuses a client without the header and reports it to onClientError', async () => {
    const refused: TlsError[] = [];
    let port = 0;
    let failed: TlsError | undefined;
    const sub = listen({ ...p.server, transport, proxyProtocol: { trusted: ['127.0.0.1'] }, onListening: (a) => (port = a.port), onClientError: (err) => refused.push(err) }).subscribe({
      error: (err: TlsError) => (failed = err),
    });
    try {
      assert.is(failed, undefined, 'the server itself did not fail');
      await withTimeout(until(() => port > 0, 'bound'), 5000, 'bound');
      const direct = tls.connect({ host: '127.0.0.1', port, ca: p.ca.cert, servername: 'localhost' });
      direct.on('error', () => {});
      await withTimeout(new Promise((r) => direct.on('close', r)), 5000, 'refused connection closed');
      await withTimeout(until(() => refused.length > 0, 'reported'), 5000, 'reported');
      assert.is(refused[0]!.code, 'ERR_TLS_HANDSHAKE');
    } finally {
      sub.unsubscribe();
    }
  });

  features.run();
}

/** The DER of a PEM certificate. */
function certDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
