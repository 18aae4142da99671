// The documented Blade `ssl` API, checked from the repository alone:
// every constant, class, property and method named in
// test/fixtures/ssl-api-members.ts is exported by @rxtls/core with the
// right kind, and docs/ssl-api.md documents each one with the signature
// core declares. Where the upstream page is at hand (RXTLS_API_PAGE, see
// test/helpers/api-page.ts) the fixture is also checked against it, its
// slips applied from a named table, so the list cannot drift from the page.
import { existsSync, readFileSync } from 'node:fs';
import { inspect } from 'node:util';

import * as core from '@rxtls/core';
import { Pointer } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { DOCUMENTED_CLASSES, DOCUMENTED_CONSTANTS, type DocumentedClass } from '../fixtures/ssl-api-members.js';
import { KNOWN_SLIPS, allEntries, apiPagePath, parseApiPage, readApiPage, resolveMember } from '../helpers/api-page.js';
import { apiDocPath, declaredSignature, parseApiDoc, readDeclarations, type DocEntry } from '../helpers/ssl-api-doc.js';

const exportsByName = core as unknown as Record<string, unknown>;

/** The descriptor of `name` on `proto` or its prototype chain (without invoking getters). */
function findDescriptor(proto: object | null, name: string | symbol): PropertyDescriptor | undefined {
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d) return d;
  }
  return undefined;
}

const isClass = (v: unknown): v is new (...args: never[]) => unknown =>
  typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));

/** What is missing or of the wrong kind for one documented class; empty when it is all there. */
function classProblems(cls: DocumentedClass): string[] {
  const Class = exportsByName[cls.name];
  if (!isClass(Class)) return [`${cls.name} is not exported as a class`];
  const problems: string[] = [];
  const proto = Class.prototype as object;
  if (cls.parent) {
    const Parent = exportsByName[cls.parent];
    if (!isClass(Parent) || !(proto instanceof Parent)) problems.push(`${cls.name} does not extend ${cls.parent}`);
  }
  for (const name of cls.properties) {
    if (typeof findDescriptor(proto, name)?.get !== 'function') problems.push(`${cls.name}.${name} is not a property (getter)`);
  }
  for (const name of cls.methods) {
    if (typeof findDescriptor(proto, name)?.value !== 'function') problems.push(`${cls.name}.${name}() is not a method`);
  }
  if (cls.printable) {
    const own = findDescriptor(proto, 'toString');
    if (!own || own.value === Object.prototype.toString) problems.push(`${cls.name} is printable but has no toString()`);
    if (typeof findDescriptor(proto, inspect.custom)?.value !== 'function')
      problems.push(`${cls.name} is printable but has no util.inspect.custom`);
  }
  return problems;
}

/** A constant is a number or a method handle, never a function or class. */
function constantProblem(name: string): string | undefined {
  if (!(name in exportsByName)) return `constant ${name} is not exported`;
  const v = exportsByName[name];
  return typeof v === 'number' || v instanceof Pointer ? undefined : `${name} is exported as a ${typeof v}, not a constant`;
}

// ---------------------------------------------------------------------------
const exportsSuite = suite('ssl API: @rxtls/core exports every documented name');

exportsSuite('the fixture lists 18 constants and 13 classes, each once', () => {
  assert.is(DOCUMENTED_CONSTANTS.length, 18);
  assert.is(new Set(DOCUMENTED_CONSTANTS).size, 18);
  assert.is(DOCUMENTED_CLASSES.length, 13);
  assert.is(new Set(DOCUMENTED_CLASSES.map((c) => c.name)).size, 13);
  for (const c of DOCUMENTED_CLASSES) {
    const members = [...c.properties, ...c.methods];
    assert.is(new Set(members).size, members.length, `${c.name} lists a member twice`);
  }
});

exportsSuite('every documented constant is exported as a number or a method handle', () => {
  assert.equal(DOCUMENTED_CONSTANTS.map(constantProblem).filter(Boolean), []);
});

for (const cls of DOCUMENTED_CLASSES) {
  exportsSuite(`${cls.name}: a class${cls.parent ? ` extending ${cls.parent}` : ''}, with its properties and methods`, () => {
    assert.equal(classProblems(cls), []);
  });
}

exportsSuite('the checks can fail: a missing member, a method listed as a property, a function as a constant', () => {
  assert.equal(classProblems({ name: 'SSL', properties: ['connect'], methods: ['no_such_method'] }), [
    'SSL.connect is not a property (getter)',
    'SSL.no_such_method() is not a method',
  ]);
  assert.equal(classProblems({ name: 'TLSSocket', properties: [], methods: ['host'] }), ['TLSSocket.host() is not a method']);
  assert.equal(classProblems({ name: 'SSL_VERIFY_PEER', properties: [], methods: [] }), ['SSL_VERIFY_PEER is not exported as a class']);
  assert.equal(classProblems({ name: 'SSL', parent: 'BIO', properties: [], methods: [] }), ['SSL does not extend BIO']);
  assert.is(constantProblem('connectTls'), 'connectTls is exported as a function, not a constant');
  assert.is(constantProblem('NO_SUCH_CONSTANT'), 'constant NO_SUCH_CONSTANT is not exported');
});

exportsSuite('Socket has the TLSSocket members that plain TCP has', () => {
  const tls = DOCUMENTED_CLASSES.find((c) => c.name === 'TLSSocket')!;
  const socketShape: DocumentedClass = {
    ...tls,
    name: 'Socket',
    methods: tls.methods.filter((m) => !['get_socket', 'get_context'].includes(m)),
  };
  assert.equal(classProblems(socketShape), []);
});

exportsSuite('the socket constants the API relies on are exported with Linux values', () => {
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

exportsSuite.run();

// ---------------------------------------------------------------------------
const docSuite = suite('ssl API: docs/ssl-api.md documents every name with the signature core declares');

/** Every documented name in the doc's terms: `X`, `X.member`, with the kind the doc must give it. */
function fixtureEntries(): Array<Pick<DocEntry, 'kind' | 'name'>> {
  return [
    ...DOCUMENTED_CONSTANTS.map((name) => ({ kind: 'constant' as const, name })),
    ...DOCUMENTED_CLASSES.flatMap((c) => [
      { kind: 'class' as const, name: c.name },
      ...c.properties.map((p) => ({ kind: 'property' as const, name: `${c.name}.${p}` })),
      ...c.methods.map((m) => ({ kind: 'method' as const, name: `${c.name}.${m}` })),
    ]),
  ];
}

/** What the doc gets wrong: a name it misses or gives the wrong kind, one it adds, a signature that is not core's. */
function docProblems(entries: DocEntry[]): string[] {
  const problems: string[] = [];
  const declared = readDeclarations();
  const key = (e: Pick<DocEntry, 'kind' | 'name'>) => `${e.kind} ${e.name}`;
  const expected = new Set(fixtureEntries().map(key));
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(key(e))) problems.push(`line ${e.line}: ${key(e)} is documented twice`);
    seen.add(key(e));
    if (!expected.has(key(e))) problems.push(`line ${e.line}: ${key(e)} is not a documented name (test/fixtures/ssl-api-members.ts)`);
    const want = declaredSignature(e, declared);
    if (want === undefined) problems.push(`line ${e.line}: core declares no ${key(e)}`);
    else if (e.signature.join('\n') !== want.join('\n'))
      problems.push(`line ${e.line}: ${key(e)}: the doc says\n    ${e.signature.join('\n    ') || '(no ```ts block)'}\n  core declares\n    ${want.join('\n    ')}`);
  }
  for (const k of expected) if (!seen.has(k)) problems.push(`${k} is not documented`);
  return problems;
}

docSuite('every fixture name has its heading and the declared TypeScript signature, and nothing else has one', () => {
  const entries = parseApiDoc();
  assert.is(entries.length, fixtureEntries().length);
  const problems = docProblems(entries);
  assert.ok(problems.length === 0, `docs/ssl-api.md:\n  ${problems.join('\n  ')}`);
});

docSuite('every documented member says what it does (text under each heading)', () => {
  const lines = readFileSync(apiDocPath, 'utf8').split('\n');
  const empty = parseApiDoc()
    .filter((e) => {
      // The prose between the signature block and the next heading.
      const rest = lines.slice(e.line);
      const next = rest.findIndex((l) => /^#{2,3} /.test(l));
      const body = (next === -1 ? rest : rest.slice(0, next)).join('\n').replace(/```ts\n[\s\S]*?```/, '');
      return body.trim().split(/\s+/).length < 5;
    })
    .map((e) => e.name);
  assert.equal(empty, []);
});

docSuite('the doc check can fail: a missing heading, a wrong signature, an extra name', () => {
  const text = readFileSync(apiDocPath, 'utf8');
  const withoutFree = text.replace(/### `SSL\.free\(\)`\n/, '');
  assert.ok(docProblems(parseApiDoc(withoutFree)).includes('method SSL.free is not documented'));
  const wrongSignature = text.replace('connect(): Promise<boolean>', 'connect(): boolean');
  assert.ok(docProblems(parseApiDoc(wrongSignature)).some((p) => p.includes('method SSL.connect: the doc says')));
  const extra = text.replace('### `SSL.free()`', '### `SSL.read_bytes()`\n\n```ts\nread_bytes(length?: number): Promise<Buffer>\n```\n\nx\n\n### `SSL.free()`');
  assert.ok(docProblems(parseApiDoc(extra)).some((p) => p.includes('method SSL.read_bytes is not a documented name')));
  assert.throws(() => parseApiDoc('## Class `X`\n\n### X.y\n'), /heading this reader does not know/);
});

docSuite.run();

// ---------------------------------------------------------------------------
// Only where the upstream page is at hand; a clone on its own skips this part.
const pageSuite = suite('ssl API: the fixture matches the upstream page (RXTLS_API_PAGE)');

pageSuite('an unexplained disagreement between heading and anchor throws', () => {
  const bad = parseApiPage('### _class_ X\n\n{:#_X_foo} **bar**()\n');
  assert.throws(() => resolveMember(bad.classes[0]!.methods[0]!, bad.classes[0]), /no known slip/);
});

if (apiPagePath === undefined) {
  console.log('  skipped: RXTLS_API_PAGE is not set, so the fixture is not compared with the upstream page (.ci/run sets it where the page is at hand)');
} else {
  const path = apiPagePath;
  pageSuite(`the page is at RXTLS_API_PAGE (${path})`, () => {
    assert.ok(existsSync(path), `RXTLS_API_PAGE names a missing file: ${path}`);
  });

  pageSuite('every known slip is on the page exactly once, and every disagreement is a known slip', () => {
    const page = readApiPage()!;
    const entries = allEntries(page);
    for (const slip of KNOWN_SLIPS) {
      const hits = entries.filter(({ entry }) => entry.anchor === slip.anchor && entry.heading === slip.heading);
      assert.is(hits.length, 1, `slip "${slip.why}" found ${hits.length} times`);
    }
    const applied = entries.map(({ entry, cls }) => resolveMember(entry, cls)).filter((r) => r.slip);
    assert.equal(
      applied.map((r) => r.name),
      ['connect', 'set_accept_name', 'pop', 'SSLBIO', 'SSLv23ClientContext'],
    );
  });

  pageSuite('the page documents exactly the fixture: constants, classes, parents, printable, properties, methods', () => {
    const page = readApiPage()!;
    assert.equal(
      page.constants.map((e) => resolveMember(e).name),
      [...DOCUMENTED_CONSTANTS],
    );
    const fromPage: DocumentedClass[] = page.classes.map((cls) => {
      for (const c of cls.constructors) assert.is(resolveMember(c, cls).name, cls.name, `${cls.name}'s constructor entry`);
      return {
        name: cls.name,
        ...(cls.parent ? { parent: cls.parent } : {}),
        ...(cls.printable ? { printable: true } : {}),
        properties: cls.properties.map((e) => resolveMember(e, cls).name),
        methods: cls.methods.map((e) => resolveMember(e, cls).name),
      };
    });
    assert.equal(fromPage, DOCUMENTED_CLASSES.map((c) => ({ ...c })));
    for (const cls of page.classes) assert.is(cls.constructors.length, 1, `${cls.name} has one documented constructor`);
  });
}

pageSuite.run();
