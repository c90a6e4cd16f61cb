// Reading a preset's figures: each is a plain value or {value, kind, source, note}, and its
// provenance (published, derived, assumption, ...) is recorded by field path. Shared by the chip
// and GPU presets so that both speak of bad fields the same way: one line naming the field.
import { SfError, quoteJson } from './errors.js';

export const FIGURE_KEYS = ['value', 'kind', 'source', 'note'];

export interface FigureProvenance<K extends string> {
  kind: K;
  source: string;
  note?: string;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A short, one-line rendering of a bad value for messages. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return v.length === 0 ? '[]' : clip(quoteJson(v)!);
  if (isObject(v)) return 'an object';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return clip(quoteJson(v) ?? String(v));
}

export class FigureReader<K extends string> {
  readonly provenance: Record<string, FigureProvenance<K>> = {};

  /**
   * @param kinds the provenance kinds a figure may declare (the first is not the default:
   *   an undeclared kind is 'assumption')
   * @param explain for an unknown key: a whole message to use instead (e.g. for a derived
   *   field), or a hint to add to the usual one
   */
  constructor(
    readonly file: string,
    readonly kinds: readonly K[],
    private readonly explain: (key: string, group: string | undefined) => { message?: string; hint?: string } | null = () => null,
  ) {}

  fail(path: string, message: string): never {
    throw new SfError(`field ${quoteJson(path)}: ${message}`, this.file);
  }

  /** Rejects keys not in `allowed` ("$comment" is always allowed). */
  checkKeys(obj: Record<string, unknown>, allowed: readonly string[], group?: string): void {
    for (const key of Object.keys(obj)) {
      if (key === '$comment' || allowed.includes(key)) continue;
      const special = this.explain(key, group);
      if (special?.message) throw new SfError(special.message, this.file);
      const path = group ? `${group}.${key}` : key;
      const where = group ? ` in "${group}"` : '';
      throw new SfError(`unknown field ${quoteJson(path)}${special?.hint ?? ''}; allowed fields${where}: ${allowed.join(', ')}, $comment`, this.file);
    }
  }

  /** Unwraps a figure (plain or object form), recording its provenance. `expect` describes the
   * value for messages; `kinds` narrows the kinds this figure may declare. An object with none
   * of the figure keys is a plain value (for figures whose values are objects). */
  figure(obj: Record<string, unknown>, key: string, path: string, expect: string, kinds: readonly K[] = this.kinds): unknown {
    if (!(key in obj)) this.fail(path, `missing; required: ${expect}`);
    const raw = obj[key];
    const userSource = `user preset ${this.file}`;
    if (!isObject(raw) || !FIGURE_KEYS.some((k) => k in raw)) {
      this.provenance[path] = { kind: 'assumption' as K, source: userSource };
      return raw;
    }
    for (const k of Object.keys(raw)) {
      if (!FIGURE_KEYS.includes(k)) this.fail(path, `unknown key ${quoteJson(k)} in figure object; allowed keys: ${FIGURE_KEYS.join(', ')}`);
    }
    if (!('value' in raw)) this.fail(path, `figure object needs "value" (${expect})`);
    let kind = 'assumption' as K;
    if ('kind' in raw) {
      if (typeof raw.kind !== 'string' || !(kinds as readonly string[]).includes(raw.kind)) {
        this.fail(`${path}.kind`, `must be one of ${kinds.join(', ')}, got ${show(raw.kind)}`);
      }
      kind = raw.kind as K;
    }
    let source = userSource;
    if ('source' in raw) {
      if (typeof raw.source !== 'string' || raw.source.trim() === '') this.fail(`${path}.source`, `must be a nonempty string, got ${show(raw.source)}`);
      source = raw.source;
    }
    const prov: FigureProvenance<K> = { kind, source };
    if ('note' in raw) {
      if (typeof raw.note !== 'string') this.fail(`${path}.note`, `must be a string, got ${show(raw.note)}`);
      prov.note = raw.note;
    }
    this.provenance[path] = prov;
    return raw.value;
  }
}
