// The tables C++ and TypeScript both hold cannot drift: the cycle flags
// (session.h's CycleFlag, lib/native.ts's CycleFlag) and the error codes
// (util/errors.h's kErr* constants, core's ErrorCode, each with its class).
import { readFileSync } from 'node:fs';

import { ErrorCode, TlsError, createError } from '@rxtls/core';
import { CycleFlag } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const source = (path: string) => readFileSync(new URL(`../../packages/native/src/${path}`, import.meta.url), 'utf8');

const Tables = suite('tables shared by C++ and TypeScript');

Tables('CycleFlag: the TypeScript table is the C++ enum, bit for bit', () => {
  const body = /enum CycleFlag : int \{([\s\S]*?)\};/.exec(source('session.h'))?.[1];
  assert.ok(body, 'session.h declares enum CycleFlag');
  const native = Object.fromEntries([...body.matchAll(/kFlag(\w+) = (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
  assert.ok(Object.keys(native).length >= 8, 'the enum was read');
  assert.equal(native, { ...CycleFlag });
});

Tables('error codes: every code the addon throws is an ErrorCode with its own class, and all of errors.h is read', () => {
  const native = [...source('util/errors.h').matchAll(/inline constexpr const char\* kErr\w+ = "(ERR_TLS_\w+)";/g)].map((m) => m[1]!);
  assert.ok(native.length >= 10, 'errors.h was read');
  const codes = new Set<string>(Object.values(ErrorCode));
  for (const code of native) {
    assert.ok(codes.has(code), `${code} (errors.h) is in ErrorCode`);
    const err = createError(code, 'probe');
    assert.is(err.code, code);
    assert.ok(err instanceof TlsError && err.constructor !== TlsError, `${code} has its own TlsError subclass`);
  }
});

Tables.run();
