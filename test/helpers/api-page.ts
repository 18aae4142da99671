// A structured reading of the upstream Blade `ssl` API page: its module
// constants, its classes with their parents, properties, constructor and
// methods, each with the anchor and heading the page gives it and the line
// it is on. The page has slips (a heading that names another class, an
// anchor copied from another method, a heading that lost its name);
// `KNOWN_SLIPS` names each one and `resolveMember` applies them, so an
// unexplained mismatch is an error.
//
// The page is not part of this repository. Where a copy is at hand its path
// is in RXTLS_API_PAGE (.ci/run sets it when the page sits beside the
// clone); the coverage test then checks test/fixtures/ssl-api-members.ts
// against it. Without it, nothing here reads any file.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/helpers/api-page.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The upstream page's path, from RXTLS_API_PAGE; undefined when unset. */
export const apiPagePath: string | undefined = process.env.RXTLS_API_PAGE || undefined;

/** The upstream page, parsed; undefined when RXTLS_API_PAGE is unset. Throws when it is set but unreadable. */
export function readApiPage(): ApiPage | undefined {
  return apiPagePath === undefined ? undefined : parseApiPage(readFileSync(apiPagePath, 'utf8'));
}

export type MemberKind = 'constant' | 'property' | 'constructor' | 'method';

/** One documented entry, as written on the page. */
export interface PageEntry {
  kind: MemberKind;
  /** The `{:#…}` anchor. */
  anchor: string;
  /** The bold name of the heading (`**name**`), or the raw heading text when it has none. */
  heading: string;
  /** The parameter list as written, without parentheses ('' when none). */
  params: string;
  /** 1-based line on the page. */
  line: number;
}

export interface PageClass {
  name: string;
  /** The documented parent class (`< _Parent_`), if any. */
  parent: string | undefined;
  /** Marked `@printable`. */
  printable: boolean;
  line: number;
  properties: PageEntry[];
  constructors: PageEntry[];
  methods: PageEntry[];
}

export interface ApiPage {
  constants: PageEntry[];
  classes: PageClass[];
}

const CLASS_RE = /^### _class_ (\w+)(?:\s+<\s+_(\w+)_)?\s*$/;
const CONSTANT_RE = /^\{:#ssl__(\w+)\} _ssl\._\*\*(\w+)\*\*\s*$/;
const PROPERTY_RE = /^\{:#(\w+)\} _(\w+)\._\*\*(\w+)\*\*\s*$/;
const METHOD_RE = /^\{:#(\w+)\} \*\*(\w+)\*\*\((.*)\)\s*$/;
const BARE_RE = /^\{:#(\w+)\} (.*?)\s*$/;

/** Parses the page's text. */
export function parseApiPage(text: string): ApiPage {
  const page: ApiPage = { constants: [], classes: [] };
  let current: PageClass | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    const lineNo = i + 1;
    const cls = CLASS_RE.exec(line);
    if (cls) {
      current = { name: cls[1]!, parent: cls[2], printable: false, line: lineNo, properties: [], constructors: [], methods: [] };
      page.classes.push(current);
      return;
    }
    if (current && /@printable\b/.test(line)) current.printable = true;
    if (!line.startsWith('{:#')) return;
    const constant = CONSTANT_RE.exec(line);
    if (constant && !current) {
      page.constants.push({ kind: 'constant', anchor: `ssl__${constant[1]}`, heading: constant[2]!, params: '', line: lineNo });
      return;
    }
    if (!current) throw new Error(`api page line ${lineNo}: entry outside a class: ${line}`);
    const prop = PROPERTY_RE.exec(line);
    if (prop) {
      current.properties.push({ kind: 'property', anchor: prop[1]!, heading: prop[3]!, params: '', line: lineNo });
      return;
    }
    const method = METHOD_RE.exec(line) ?? BARE_RE.exec(line);
    if (!method) throw new Error(`api page line ${lineNo}: unrecognised entry: ${line}`);
    const anchor = method[1]!;
    const entry: PageEntry = {
      kind: anchor === `_${current.name}_${current.name}` ? 'constructor' : 'method',
      anchor,
      heading: method[2]!,
      params: method[3] ?? '',
      line: lineNo,
    };
    if (entry.kind === 'constructor') current.constructors.push(entry);
    else current.methods.push(entry);
  });
  return page;
}

/** A mistake on the page, and what the entry means. */
export interface Slip {
  /** The entry's anchor and heading as the page has them. */
  anchor: string;
  heading: string;
  /** The member name the entry documents. */
  means: string;
  why: string;
}

/** Every known slip of the page. Each must still be on the page (so the table stays true). */
export const KNOWN_SLIPS: readonly Slip[] = [
  {
    anchor: '_SSLv23ClientContext_SSLv23ClientContext',
    heading: 'TLSClientContext',
    means: 'SSLv23ClientContext',
    why: "SSLv23ClientContext's constructor is headed with TLSClientContext's name",
  },
  {
    anchor: '_SSLBIO_SSLBIO',
    heading: 'ConnectBIO',
    means: 'SSLBIO',
    why: "SSLBIO's constructor is headed with ConnectBIO's name",
  },
  {
    anchor: '_SSL_accept',
    heading: 'connect',
    means: 'connect',
    why: "SSL.connect's anchor was copied from SSL.accept",
  },
  {
    anchor: '_BIO_set_accept_tname',
    heading: 'set_accept_name',
    means: 'set_accept_name',
    why: "BIO.set_accept_name's anchor has a stray 't' (set_accept_tname)",
  },
  {
    anchor: '_BIO_pop',
    heading: 'false',
    means: 'pop',
    why: "BIO.pop's heading lost its name and reads `false`",
  },
];

/** The name an entry's anchor gives it (constants: `ssl__X`; members: `_Class_x` or `Class_Class_x`). */
export function anchorName(entry: PageEntry, cls?: PageClass): string {
  if (entry.kind === 'constant') return entry.anchor.replace(/^ssl__/, '');
  if (!cls) throw new Error('a class member needs its class');
  if (entry.kind === 'property') return entry.anchor.replace(new RegExp(`^${cls.name}_${cls.name}_`), '');
  if (entry.kind === 'constructor') return cls.name;
  return entry.anchor.replace(new RegExp(`^_${cls.name}_`), '');
}

export interface ResolvedMember {
  entry: PageEntry;
  /** The name the member must be exported or defined under. */
  name: string;
  /** The slip that was applied, if the page's heading and anchor disagree. */
  slip: Slip | undefined;
}

/**
 * The name a documented entry stands for. Where the heading and the anchor
 * agree that is the name; where they disagree the entry must be a known
 * slip, else this throws (a new slip must be looked at, not guessed at).
 */
export function resolveMember(entry: PageEntry, cls?: PageClass): ResolvedMember {
  const fromAnchor = anchorName(entry, cls);
  const fromHeading = entry.heading;
  if (fromAnchor === fromHeading) return { entry, name: fromHeading, slip: undefined };
  const slip = KNOWN_SLIPS.find((s) => s.anchor === entry.anchor && s.heading === entry.heading);
  if (!slip)
    throw new Error(
      `api page line ${entry.line}: heading "${fromHeading}" and anchor "${entry.anchor}" disagree and no known slip explains it`,
    );
  return { entry, name: slip.means, slip };
}

/** Every entry of the page with the class it belongs to (undefined for module constants). */
export function allEntries(page: ApiPage): Array<{ entry: PageEntry; cls: PageClass | undefined }> {
  const out: Array<{ entry: PageEntry; cls: PageClass | undefined }> = page.constants.map((entry) => ({ entry, cls: undefined }));
  for (const cls of page.classes)
    for (const entry of [...cls.properties, ...cls.constructors, ...cls.methods]) out.push({ entry, cls });
  return out;
}
