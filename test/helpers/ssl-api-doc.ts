// The two sides docs/ssl-api.md must agree with: what it documents (its
// headings and the TypeScript signature under each) and what @rxtls/core
// declares (its built .d.ts files, the signatures a user's editor shows).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import ts from 'typescript';

import { repoRoot } from './api-page.js';

export const apiDocPath = join(repoRoot, 'docs', 'ssl-api.md');
/** Where `pnpm build` puts core's declarations. */
export const coreDeclarationsDir = join(repoRoot, 'packages', 'core', 'dist');

export type DocKind = 'constant' | 'class' | 'property' | 'method';

/** One documented name: `SSL_VERIFY_PEER`, `SSL`, `TLSSocket.host`, `SSL.connect`. */
export interface DocEntry {
  kind: DocKind;
  /** The constant or class name, or `Class.member`. */
  name: string;
  /** The lines of the first ```ts block under the heading, whitespace collapsed. */
  signature: string[];
  /** 1-based line of the heading. */
  line: number;
}

const oneSpace = (s: string): string => s.replace(/\s+/g, ' ').trim();

/**
 * Reads the doc's headings: `### \`NAME\`` under `## Constants`,
 * `## Class \`X\``, and under it `### \`X.method()\`` and `### \`X.property\``.
 */
export function parseApiDoc(text: string = readFileSync(apiDocPath, 'utf8')): DocEntry[] {
  const entries: DocEntry[] = [];
  const lines = text.split('\n');
  let section: 'constants' | 'class' | 'other' = 'other';
  let open: DocEntry | undefined;
  let inBlock = false;
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (inBlock) {
      if (line.startsWith('```')) {
        inBlock = false;
        open = undefined;
      } else if (open && line.trim() !== '') open.signature.push(oneSpace(line));
      return;
    }
    if (line.startsWith('```')) {
      // Only the first block after a heading is its signature.
      inBlock = true;
      if (!(open && open.signature.length === 0 && line === '```ts')) open = undefined;
      return;
    }
    let m: RegExpExecArray | null;
    if (/^## /.test(line)) {
      open = undefined;
      if (line === '## Constants') section = 'constants';
      else if ((m = /^## Class `(\w+)`$/.exec(line))) {
        section = 'class';
        open = { kind: 'class', name: m[1]!, signature: [], line: i + 1 };
        entries.push(open);
      } else section = 'other';
      return;
    }
    if (!/^### /.test(line)) return;
    open = undefined;
    if (section === 'constants' && (m = /^### `(\w+)`$/.exec(line))) open = { kind: 'constant', name: m[1]!, signature: [], line: i + 1 };
    else if (section === 'class' && (m = /^### `(\w+)\.(\w+)(\(\))?`$/.exec(line)))
      open = { kind: m[3] ? 'method' : 'property', name: `${m[1]}.${m[2]}`, signature: [], line: i + 1 };
    else throw new Error(`docs/ssl-api.md line ${i + 1}: a heading this reader does not know: ${line}`);
    entries.push(open);
  });
  return entries;
}

/** What core declares for one class. */
export interface DeclaredClass {
  /** `class X` or `class X extends Y`. */
  head: string;
  /** The constructor's signature, e.g. `constructor(context: SSLContext)`. */
  ctor: string | undefined;
  /** Member name → signature as the doc writes it (`readonly host: string`, `set_fd(fd: number): void`). */
  members: Map<string, string>;
}

export interface Declarations {
  /** Constant name → `const X = 1` / `const X: Pointer`. */
  constants: Map<string, string>;
  classes: Map<string, DeclaredClass>;
}

const isExported = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

/** Core's exported constants and classes, read from the built declaration files. */
export function readDeclarations(dir: string = coreDeclarationsDir): Declarations {
  const out: Declarations = { constants: new Map(), classes: new Map() };
  const files = readdirSync(dir).filter((f) => f.endsWith('.d.ts'));
  if (files.length === 0) throw new Error(`no declaration files in ${dir}: run pnpm build`);
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(join(dir, file), 'utf8'), ts.ScriptTarget.ES2022, true);
    const text = (n: ts.Node) => oneSpace(n.getText(sf)).replace(/;$/, '');
    for (const stmt of sf.statements) {
      if (!isExported(stmt)) continue;
      if (ts.isVariableStatement(stmt)) {
        for (const d of stmt.declarationList.declarations) out.constants.set(d.name.getText(sf), `const ${text(d)}`);
      } else if (ts.isClassDeclaration(stmt) && stmt.name) {
        const name = stmt.name.text;
        const parent = stmt.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
        const cls: DeclaredClass = { head: `class ${name}${parent ? ` extends ${text(parent)}` : ''}`, ctor: undefined, members: new Map() };
        const setters = new Set(stmt.members.filter(ts.isSetAccessorDeclaration).map((m) => m.name.getText(sf)));
        for (const m of stmt.members) {
          if (ts.isConstructorDeclaration(m)) cls.ctor = text(m);
          else if (ts.isMethodDeclaration(m)) cls.members.set(m.name.getText(sf), text(m));
          else if (ts.isGetAccessorDeclaration(m)) {
            const prop = m.name.getText(sf);
            const type = m.type ? text(m.type) : 'unknown';
            cls.members.set(prop, `${setters.has(prop) ? '' : 'readonly '}${prop}: ${type}`);
          } else if (ts.isPropertyDeclaration(m)) cls.members.set(m.name.getText(sf), text(m));
        }
        out.classes.set(name, cls);
      }
    }
  }
  return out;
}

/** The signature the doc must give for `entry`, or undefined when core declares no such name. */
export function declaredSignature(entry: DocEntry, declared: Declarations): string[] | undefined {
  if (entry.kind === 'constant') {
    const c = declared.constants.get(entry.name);
    return c === undefined ? undefined : [c];
  }
  if (entry.kind === 'class') {
    const cls = declared.classes.get(entry.name);
    return cls === undefined ? undefined : [cls.head, cls.ctor ?? 'constructor()'];
  }
  const [clsName, member] = entry.name.split('.') as [string, string];
  // Inherited members are declared on the parent.
  for (let cls = declared.classes.get(clsName); cls; ) {
    const sig = cls.members.get(member);
    if (sig !== undefined) return [sig];
    const parent = / extends (\w+)$/.exec(cls.head)?.[1];
    cls = parent ? declared.classes.get(parent) : undefined;
  }
  return undefined;
}
