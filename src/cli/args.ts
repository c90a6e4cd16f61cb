// Strict command-line parsing: every flag is declared; an unknown flag, a missing value or a
// malformed number is a one-line error naming the flag.
import { SfError } from '../util/errors.js';

export interface FlagSpec {
  /** 'bool' flags take no value; others take the next argument (or --flag=value). */
  type: 'bool' | 'string' | 'int';
  min?: number;
  max?: number;
  alias?: string;
}

export interface Parsed {
  positional: string[];
  flags: Record<string, string | number | boolean>;
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>, command: string): Parsed {
  const positional: string[] = [];
  const flags: Parsed['flags'] = {};
  const byAlias = new Map(Object.entries(spec).filter(([, s]) => s.alias).map(([k, s]) => [s.alias!, k]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    let name: string;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      value = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      const key = byAlias.get(arg.slice(1));
      if (!key) throw new SfError(`unknown option "${arg}" for "sramflow ${command}" (see sramflow help)`);
      name = key;
    }
    const s = spec[name];
    if (!s) {
      const known = Object.keys(spec).map((k) => '--' + k).join(', ');
      throw new SfError(`unknown option "--${name}" for "sramflow ${command}"; known: ${known || 'none'}`);
    }
    if (s.type === 'bool') {
      if (value !== undefined) throw new SfError(`option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new SfError(`option --${name} needs a value`);
      value = argv[++i];
    }
    if (s.type === 'int') {
      if (!/^\d+$/.test(value)) throw new SfError(`option --${name}: "${value}" is not a whole number`);
      const n = Number(value);
      if (!Number.isSafeInteger(n) || (s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
        throw new SfError(`option --${name}: ${value} is out of range ${s.min ?? 0}..${s.max ?? Number.MAX_SAFE_INTEGER}`);
      }
      flags[name] = n;
    } else {
      flags[name] = value;
    }
  }
  return { positional, flags };
}
