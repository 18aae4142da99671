// Every constant, class, property and method of the documented page
// (../shared/reference/blade-ssl-api.md) is exported from @rxtls/core under
// its documented name. The page's slips are applied from a named table
// (test/helpers/api-page.ts), never skipped. The BIO family is a separate
// suite that issue 4 turns on (BIO_FAMILY_REQUIRED).
import { inspect } from 'node:util';

import * as core from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import {
  KNOWN_SLIPS,
  allEntries,
  isBioClass,
  isBioConstant,
  parseApiPage,
  resolveMember,
  type ApiPage,
  type PageClass,
} from '../helpers/api-page.js';

/** Issue 4 (the BIO family) sets this to true when BIO, SSLBIO, ConnectBIO and AcceptedBIO are exported. */
const BIO_FAMILY_REQUIRED = true;

const exportsByName = core as unknown as Record<string, unknown>;
const page: ApiPage = parseApiPage();

/** The descriptor of `name` on `proto` or its prototype chain (without invoking getters). */
function findDescriptor(proto: object | null, name: string): PropertyDescriptor | undefined {
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d) return d;
  }
  return undefined;
}

/** What is missing or wrong for one documented class; empty when it is all there. */
function classProblems(cls: PageClass): string[] {
  const problems: string[] = [];
  const Class = exportsByName[cls.name];
  if (typeof Class !== 'function') return [`class ${cls.name} (line ${cls.line}) is not exported`];
  const proto = (Class as { prototype: object }).prototype;
  if (cls.parent) {
    const Parent = exportsByName[cls.parent];
    if (typeof Parent !== 'function' || !(proto instanceof (Parent as new () => unknown)))
      problems.push(`${cls.name} does not extend ${cls.parent}`);
  }
  for (const entry of cls.constructors) {
    const { name } = resolveMember(entry, cls);
    if (name !== cls.name) problems.push(`${cls.name}: constructor entry (line ${entry.line}) resolves to ${name}`);
  }
  for (const entry of cls.properties) {
    const { name } = resolveMember(entry, cls);
    const d = findDescriptor(proto, name);
    if (!d || (typeof d.get !== 'function' && 'value' in d && typeof d.value === 'function'))
      problems.push(`${cls.name}.${name} (property, line ${entry.line}) is missing`);
  }
  for (const entry of cls.methods) {
    const { name } = resolveMember(entry, cls);
    const d = findDescriptor(proto, name);
    if (!d || typeof d.value !== 'function') problems.push(`${cls.name}.${name}() (line ${entry.line}) is missing`);
  }
  if (cls.printable) {
    const own = findDescriptor(proto, 'toString');
    if (!own || own.value === Object.prototype.toString) problems.push(`${cls.name} is @printable but has no toString()`);
    if (typeof findDescriptor(proto, inspect.custom as unknown as string)?.value !== 'function')
      problems.push(`${cls.name} is @printable but has no util.inspect.custom`);
  }
  return problems;
}

// ---------------------------------------------------------------------------
const parsing = suite('api page: parsing');

parsing('finds the module constants and the classes', () => {
  assert.is(page.constants.length, 18);
  assert.equal(
    page.classes.map((c) => c.name),
    [
      'SSL',
      'TLSSocket',
      'BIO',
      'SSLBIO',
      'ConnectBIO',
      'AcceptedBIO',
      'SSLContext',
      'TLSContext',
      'TLSClientContext',
      'TLSServerContext',
      'SSLv23Context',
      'SSLv23ClientContext',
      'SSLv23ServerContext',
    ],
  );
});

// The issue speaks of "fifteen" TLSSocket properties; the page documents sixteen
// (host, port, family, type, protocol, id, six is_* flags, shutdown_reason,
// send_timeout, receive_timeout): the page is the contract.
parsing('TLSSocket has sixteen properties, is printable, and SSLContext subclasses name their parent', () => {
  const tls = page.classes.find((c) => c.name === 'TLSSocket')!;
  assert.equal(
    tls.properties.map((p) => p.heading),
    ['host', 'port', 'family', 'type', 'protocol', 'id', 'is_client', 'is_bound', 'is_connected', 'is_listening', 'is_closed',
      'is_shutdown', 'is_blocking', 'shutdown_reason', 'send_timeout', 'receive_timeout'],
  );
  assert.ok(tls.printable);
  for (const name of ['TLSContext', 'TLSClientContext', 'TLSServerContext', 'SSLv23Context', 'SSLv23ClientContext', 'SSLv23ServerContext'])
    assert.is(page.classes.find((c) => c.name === name)!.parent, 'SSLContext');
});

parsing('every known slip is on the page exactly once, and every disagreement is a known slip', () => {
  const entries = allEntries(page);
  for (const slip of KNOWN_SLIPS) {
    const hits = entries.filter(({ entry }) => entry.anchor === slip.anchor && entry.heading === slip.heading);
    assert.is(hits.length, 1, `slip "${slip.why}" found ${hits.length} times`);
  }
  const applied = entries.map(({ entry, cls }) => resolveMember(entry, cls)).filter((r) => r.slip);
  assert.is(applied.length, KNOWN_SLIPS.length);
  assert.equal(
    applied.map((r) => r.name),
    ['connect', 'set_accept_name', 'pop', 'SSLBIO', 'SSLv23ClientContext'],
  );
});

parsing('an unexplained disagreement between heading and anchor throws', () => {
  const bad = parseApiPage('### _class_ X\n\n{:#_X_foo} **bar**()\n');
  assert.throws(() => resolveMember(bad.classes[0]!.methods[0]!, bad.classes[0]), /no known slip/);
});

parsing.run();

// ---------------------------------------------------------------------------
const coverage = suite('api page: @rxtls/core exports (outside the BIO family)');

coverage('every documented constant is exported', () => {
  const missing = page.constants
    .filter((e) => !isBioConstant(e))
    .map((e) => resolveMember(e).name)
    .filter((name) => !(name in exportsByName));
  assert.equal(missing, []);
});

for (const cls of page.classes.filter((c) => !isBioClass(c))) {
  coverage(`${cls.name}: class, parent, properties and methods`, () => {
    assert.equal(classProblems(cls), []);
  });
}

coverage('Socket has the TLSSocket members that plain TCP has', () => {
  const tls = page.classes.find((c) => c.name === 'TLSSocket')!;
  const socketShape: PageClass = {
    ...tls,
    name: 'Socket',
    constructors: [],
    methods: tls.methods
      .filter((m) => !['get_socket', 'get_context'].includes(m.heading))
      .map((m) => ({ ...m, anchor: m.anchor.replace(/^_TLSSocket_/, '_Socket_') })),
    properties: tls.properties.map((p) => ({ ...p, anchor: p.anchor.replace(/^TLSSocket_TLSSocket_/, 'Socket_Socket_') })),
  };
  assert.equal(classProblems(socketShape), []);
});

coverage('the socket constants the API relies on are exported with Linux values', () => {
  const expected: Record<string, number> = {
    AF_INET: 2,
    AF_INET6: 10,
    SOCK_STREAM: 1,
    IPPROTO_TCP: 6,
    SO_REUSEADDR: 2,
    SO_KEEPALIVE: 9,
    SO_SNDBUF: 7,
    SO_RCVBUF: 8,
    SO_RCVTIMEO: 20,
    SO_SNDTIMEO: 21,
    TCP_NODELAY: 1,
    SHUT_RD: 0,
    SHUT_WR: 1,
    SHUT_RDWR: 2,
  };
  for (const [name, value] of Object.entries(expected)) assert.is(exportsByName[name], value, name);
});

coverage.run();

// ---------------------------------------------------------------------------
// The BIO family (issue 4). Until BIO_FAMILY_REQUIRED is true this suite
// proves the parser sees the family and reports what is still missing; it
// then requires it like the suite above.
const bio = suite('api page: the BIO family (issue 4)');

const bioClasses = page.classes.filter(isBioClass);
const bioConstants = page.constants.filter(isBioConstant);

bio('the page documents BIO, SSLBIO, ConnectBIO, AcceptedBIO and the BIO method constants', () => {
  assert.equal(
    bioClasses.map((c) => c.name),
    ['BIO', 'SSLBIO', 'ConnectBIO', 'AcceptedBIO'],
  );
  assert.equal(
    bioConstants.map((c) => c.heading),
    ['BIO_f_ssl', 'BIO_s_connect', 'BIO_s_accept'],
  );
  assert.is(bioClasses[0]!.methods.length, 29);
});

bio(BIO_FAMILY_REQUIRED ? 'every BIO member is exported' : 'what of the BIO family is still missing (not required yet)', () => {
  const problems = [
    ...bioConstants.map((e) => resolveMember(e).name).filter((n) => !(n in exportsByName)).map((n) => `constant ${n} is not exported`),
    ...bioClasses.flatMap(classProblems),
  ];
  if (BIO_FAMILY_REQUIRED) assert.equal(problems, []);
  else if (problems.length > 0) console.log(`  BIO family, not required yet: ${problems.length} missing (first: ${problems[0]})`);
});

bio.run();
