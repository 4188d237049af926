// Reading the yaml package's nodes with positions: aliases resolved (counted, never expanded into
// copies), merge keys (`<<`) applied, duplicate keys reported. Every walk here is iterative or of
// fixed depth, so no input can exhaust the stack; and every alias use is charged the size of what it
// points at, so no input can multiply the work (a big anchored map merged many times).
import { isAlias, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Alias, Document, LineCounter, Node as YamlNode, YAMLMap } from 'yaml';
import type { Position } from './types.ts';
import type { Report } from './report.ts';

/** Most alias uses (`*name`) followed in one file; a job file needs a few. */
export const MAX_ALIAS_USES = 1000;
/** Deepest chain of merge keys (`<<: *a` where a itself merges) followed. */
export const MAX_MERGE_DEPTH = 8;
/**
 * Most nodes reachable through alias uses and merge keys in one file, counted per use (an alias
 * to a 1 000-node list used 3 times costs 3 000): the file's own size bounds the rest of the work.
 */
export const MAX_ALIAS_WORK = 250_000;

/** One key of a mapping, with the value it maps to (aliases resolved). */
export interface Entry {
  key: string;
  keyPos: Position | undefined;
  /** The value, or null when the key has no value (`since:`). */
  value: YamlNode | null;
  /** Where the value is written (the alias itself for `key: *anchor`); the key's position when empty. */
  valuePos: Position | undefined;
}

/** Node access for one document. */
export class Reader {
  private readonly anchors = new Map<Alias, YamlNode | undefined>();
  private aliasUses = 0;
  private aliasLimitReported = false;
  private readonly sizes = new Map<YamlNode, number>();
  private aliasWork = 0;
  private workLimitReported = false;
  private readonly unknownAliases = new Set<Alias>();

  constructor(
    doc: Document.Parsed,
    private readonly lines: LineCounter,
    private readonly report: Report,
  ) {
    indexAnchors(doc.contents, this.anchors, this.sizes);
  }

  /** 1-based position of a node's first character. */
  pos(node: unknown): Position | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (!range) return undefined;
    const p = this.lines.linePos(range[0]);
    return { line: p.line, column: p.col };
  }

  /** The node itself, or what an alias points at; null for an empty value or an unknown alias. */
  resolve(node: unknown): YamlNode | null {
    if (!isAlias(node)) return isScalar(node) || isMap(node) || isSeq(node) ? node : null;
    if (++this.aliasUses > MAX_ALIAS_USES) {
      if (!this.aliasLimitReported) {
        this.aliasLimitReported = true;
        this.report.add('YAML_UNSUPPORTED', `The file uses aliases (*name) more than ${MAX_ALIAS_USES} times; a job file needs a few. The rest are ignored.`, this.pos(node));
      }
      return null;
    }
    const target = this.anchors.get(node);
    if (target !== undefined) {
      this.aliasWork += this.sizes.get(target) ?? 1;
      if (this.aliasWork > MAX_ALIAS_WORK) {
        if (!this.workLimitReported) {
          this.workLimitReported = true;
          this.report.add('YAML_TOO_COMPLEX', `The file's aliases (*name) and merge keys (<<) expand to more than ${MAX_ALIAS_WORK} values in all; a job file needs a few. This one and the rest are ignored: write the values out instead of repeating a big anchor.`, this.pos(node));
        }
        return null;
      }
    }
    if (target === undefined && !this.unknownAliases.has(node)) {
      this.unknownAliases.add(node);
      this.report.add('YAML_SYNTAX', `The alias *${node.source} refers to no anchor &${node.source} defined before it. Define the anchor first or fix the name.`, this.pos(node));
    }
    return target ?? null;
  }

  /** True when the value is absent or an empty scalar (`key:` or `key: ~`). */
  isEmpty(node: YamlNode | null): boolean {
    return node === null || (isScalar(node) && (node.value === null || node.value === undefined));
  }

  /** The keys of a mapping in order, merge keys applied, duplicates reported unless `quiet` (first one kept). */
  entries(map: YAMLMap, path: string, quiet: (key: string) => boolean = () => false): Entry[] {
    const out: Entry[] = [];
    const seen = new Map<string, Entry>();
    const merged: Entry[] = [];
    this.collect(map, path, out, seen, merged, 0, quiet);
    for (const m of merged) {
      if (!seen.has(m.key)) {
        seen.set(m.key, m);
        out.push(m);
      }
    }
    return out;
  }

  private collect(map: YAMLMap, path: string, out: Entry[], seen: Map<string, Entry>, merged: Entry[], depth: number, quiet: (key: string) => boolean = () => false): void {
    for (const pair of map.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key;
      const keyPos = this.pos(keyNode) ?? this.pos(pair.value);
      if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
        if (depth === 0) this.merge(pair.value, path, merged, keyPos);
        continue;
      }
      const key = this.keyText(keyNode, path, keyPos);
      if (key === null) continue;
      const value = this.resolve(pair.value);
      const entry: Entry = { key, keyPos, value, valuePos: this.isEmpty(value) ? keyPos : (this.pos(pair.value) ?? keyPos) };
      if (depth > 0) {
        merged.push(entry);
        continue;
      }
      const first = seen.get(key);
      if (first) {
        if (quiet(key)) continue;
        const where = path === '' ? 'at the top level' : `in \`${path}\``;
        this.report.add('DUPLICATE_KEY', `\`${key}\` appears twice ${where} (first at line ${first.keyPos?.line ?? '?'}). Only the first is used: merge the two or delete one.`, keyPos, joinPath(path, key));
        continue;
      }
      seen.set(key, entry);
      out.push(entry);
    }
  }

  // Merge keys (YAML 1.1 `<<: *anchor` or `<<: [*a, *b]`): keys not written explicitly come from
  // the sources, earlier sources first.
  private merge(value: unknown, path: string, merged: Entry[], pos: Position | undefined): void {
    const target = this.resolve(value);
    const sources = isSeq(target) ? target.items.map((i) => this.resolve(i)) : [target];
    for (const source of sources) {
      if (!isMap(source)) {
        this.report.add('WRONG_TYPE', `A merge key (<<) must refer to a mapping (<<: *anchor); this one does not, so it is ignored.`, pos, path || undefined);
        continue;
      }
      this.mergeFrom(source, path, merged, 1);
    }
  }

  private mergeFrom(source: YAMLMap, path: string, merged: Entry[], depth: number): void {
    if (depth > MAX_MERGE_DEPTH) return;
    const local: Entry[] = [];
    this.collect(source, path, local, new Map(), local, depth);
    merged.push(...local);
    for (const pair of source.items) {
      if (isPair(pair) && isScalar(pair.key) && typeof pair.key.value === 'symbol') {
        const inner = this.resolve(pair.value);
        const list = isSeq(inner) ? inner.items.map((i) => this.resolve(i)) : [inner];
        for (const m of list) if (isMap(m)) this.mergeFrom(m, path, merged, depth + 1);
      }
    }
  }

  // A key as text. Keys YAML reads as something else (`on:` is a yes/no value, `2024:` a number) are
  // reported and kept as written; keys that are lists or mappings are reported and skipped.
  private keyText(node: unknown, path: string, pos: Position | undefined): string | null {
    const key = this.resolve(node);
    if (isScalar(key)) {
      if (typeof key.value === 'string') return key.value;
      const text = typeof key.source === 'string' && key.source !== '' ? key.source : String(key.value ?? '');
      if (key.value === null || key.value === undefined || text === '') {
        this.report.add('WRONG_TYPE', `There is a value without a key ${path === '' ? 'at the top level' : `in \`${path}\``} (a line starting with ':'?). Write it as key: value.`, pos, path || undefined);
        return null;
      }
      this.report.add('WRONG_TYPE', `The key ${text} is read by YAML as ${describe(key, false)}, not as a name. Put it in quotes: "${text}":`, pos, joinPath(path, text));
      return text;
    }
    this.report.add('WRONG_TYPE', `A key ${path === '' ? 'at the top level' : `in \`${path}\``} is ${describe(key)}; keys must be plain names.`, pos, path || undefined);
    return null;
  }
}

/** `a.b` for a field path, or just `b` at the top level. */
export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** What a value is, in words, for messages ("a list", "the text \"yes\" (in quotes)", …). */
export function describe(node: YamlNode | null | undefined, withSource = true): string {
  if (node === null || node === undefined) return 'empty';
  if (isMap(node)) return 'a mapping (key: value pairs)';
  if (isSeq(node)) return 'a list';
  if (!isScalar(node)) return 'something else';
  const v: unknown = node.value;
  if (v === null || v === undefined) return 'empty';
  const src = withSource ? ` (${node.source ?? String(v)})` : '';
  if (typeof v === 'boolean') return `a yes/no value${src}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `a number${src}`;
  if (v instanceof Date) return `a date${src}`;
  if (typeof v === 'string') {
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    return `the text ${JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v)}${quoted ? ' (in quotes)' : ''}`;
  }
  return 'binary data';
}

// Maps each alias to the node carrying its anchor: the last one defined before it in document
// order, as YAML says; and records the size of each anchored node (itself, its pairs, keys and
// values; an alias inside counts 1, as it is charged when followed). One iterative pass.
function indexAnchors(root: unknown, out: Map<Alias, YamlNode | undefined>, sizes: Map<YamlNode, number>): void {
  const current = new Map<string, YamlNode>();
  // Frames enter a node, then leave it once its children are done; `open` holds the running sizes.
  const stack: { node: unknown; exit: boolean }[] = [{ node: root, exit: false }];
  const open: { size: number }[] = [];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const node = frame.node;
    if (frame.exit) {
      const done = open.pop()!;
      if (open.length > 0) open[open.length - 1]!.size += done.size;
      if ((isScalar(node) || isMap(node) || isSeq(node)) && node.anchor) sizes.set(node, done.size);
      continue;
    }
    if (node === null || node === undefined) continue;
    open.push({ size: 1 });
    stack.push({ node, exit: true });
    if (isAlias(node)) {
      out.set(node, current.get(node.source));
      continue;
    }
    if (isPair(node)) {
      stack.push({ node: node.value, exit: false }, { node: node.key, exit: false });
      continue;
    }
    if (isScalar(node) || isMap(node) || isSeq(node)) {
      if (node.anchor) current.set(node.anchor, node);
      if (isMap(node) || isSeq(node)) {
        for (let i = node.items.length - 1; i >= 0; i--) stack.push({ node: node.items[i], exit: false });
      }
    }
  }
}
