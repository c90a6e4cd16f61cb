// System presets: how many chips, of which kind, and which link of which chip is wired to which.
// Topologies (ISCA22, Abts et al. 2022, sec. 3):
//  - "fully-connected": chip i's link j goes to chip (i+j+1) mod N (j < N-1). With this rotational
//    numbering link 0 always leads to the next chip and link N-2 to the previous one, so one SPMD
//    program serves every chip of a ring. The ISCA22 node is this with N = 8 on the 7 local links.
//  - "isca22": nodes of 8 fully connected chips (links 0..6); each chip's 4 global links (7..10)
//    join the nodes. Up to 9 nodes (a 72-chip rack) every node pair gets 32/(nodes-1) links
//    (4 in a full rack). Beyond, the paper's Dragonfly is simplified to a circulant graph of
//    nodes: global port p < 16 of node n goes to node n+p+1, port 16+p to node n-p-1 (documented
//    in docs/system.md); the 576-chip benchmark system uses it.
//  - "links": an explicit list [chipA, linkA, chipB, linkB] of bidirectional links.
import { SfError, quoteJson } from '../util/errors.js';
import { parseJsonText, readDataFile } from '../util/data-file.js';
import { loadChipPreset } from '../chip/preset.js';
import type { ChipConfig } from '../chip/config.js';

export interface Endpoint {
  chip: number;
  link: number;
}

export interface SystemConfig {
  name: string;
  description: string;
  chip: ChipConfig;
  chips: number;
  topology: string;
  /** peer[chip][link]: the other end, or null when the link is not wired. */
  peer: (Endpoint | null)[][];
  file: string;
}

const PRESETS_DIR = new URL('../../presets/systems/', import.meta.url);
export const MAX_CHIPS = 4096;

function fail(file: string, field: string, msg: string): never {
  throw new SfError(`field "${field}": ${msg}`, file);
}

function connect(peer: (Endpoint | null)[][], a: Endpoint, b: Endpoint, file: string, field: string): void {
  const n = peer.length;
  const links = peer[0]?.length ?? 0;
  for (const e of [a, b]) {
    if (!Number.isInteger(e.chip) || e.chip < 0 || e.chip >= n) fail(file, field, `chip ${e.chip} does not exist (0..${n - 1})`);
    if (!Number.isInteger(e.link) || e.link < 0 || e.link >= links) fail(file, field, `link ${e.link} does not exist (the chip has links 0..${links - 1})`);
  }
  if (a.chip === b.chip) fail(file, field, `chip ${a.chip} is linked to itself`);
  for (const e of [a, b]) {
    if (peer[e.chip][e.link]) fail(file, field, `link ${e.link} of chip ${e.chip} is wired twice`);
  }
  peer[a.chip][a.link] = b;
  peer[b.chip][b.link] = a;
}

export function buildTopology(kind: string, chips: number, chip: ChipConfig, file: string, links?: unknown): (Endpoint | null)[][] {
  const L = chip.c2cLinks;
  const peer: (Endpoint | null)[][] = Array.from({ length: chips }, () => Array(L).fill(null));
  if (kind === 'single') {
    if (chips !== 1) fail(file, 'topology', `"single" is one chip, not ${chips}`);
    return peer;
  }
  if (kind === 'fully-connected') {
    if (chips - 1 > L) fail(file, 'topology', `fully-connected ${chips} chips needs ${chips - 1} links per chip; ${chip.name} has ${L}`);
    for (let i = 0; i < chips; i++) {
      for (let j = 0; j < chips - 1; j++) {
        const k = (i + j + 1) % chips;
        const back = chips - 2 - j;
        if (i < k) connect(peer, { chip: i, link: j }, { chip: k, link: back }, file, 'topology');
      }
    }
    return peer;
  }
  if (kind === 'isca22') {
    if (L < 11) fail(file, 'topology', `isca22 needs 11 links per chip (7 local + 4 global); ${chip.name} has ${L}`);
    if (chips % 8 !== 0) fail(file, 'chips', `isca22 systems are whole nodes of 8 chips, got ${chips}`);
    const nodes = chips / 8;
    for (let n = 0; n < nodes; n++) {
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 7; j++) {
          const k = (i + j + 1) % 8;
          if (i < k) connect(peer, { chip: n * 8 + i, link: j }, { chip: n * 8 + k, link: 6 - j }, file, 'topology');
        }
      }
    }
    const port = (node: number, p: number): Endpoint => ({ chip: node * 8 + Math.floor(p / 4), link: 7 + (p % 4) });
    if (nodes > 1 && nodes <= 9) {
      const perPair = Math.floor(32 / (nodes - 1));
      for (let n = 0; n < nodes; n++) {
        for (let r = 0; r < perPair; r++) {
          for (let d = 1; d < nodes; d++) {
            const m = (n + d) % nodes;
            const p = r * (nodes - 1) + (d - 1);
            const q = r * (nodes - 1) + (nodes - d - 1);
            if (n < m) connect(peer, port(n, p), port(m, q), file, 'topology');
          }
        }
      }
    } else if (nodes > 9) {
      for (let n = 0; n < nodes; n++) {
        for (let p = 0; p < 16; p++) {
          if ((p + 1) % nodes === 0) continue;
          const m = (n + p + 1) % nodes;
          connect(peer, port(n, p), port(m, 16 + p), file, 'topology');
        }
      }
    }
    return peer;
  }
  if (kind === 'links') {
    if (!Array.isArray(links)) fail(file, 'links', 'must be a list of [chipA, linkA, chipB, linkB]');
    links.forEach((l, i) => {
      if (!Array.isArray(l) || l.length !== 4 || !l.every((x) => Number.isInteger(x))) {
        fail(file, `links[${i}]`, `must be [chipA, linkA, chipB, linkB] (integers), got ${quoteJson(l)}`);
      }
      connect(peer, { chip: l[0], link: l[1] }, { chip: l[2], link: l[3] }, file, `links[${i}]`);
    });
    return peer;
  }
  fail(file, 'topology', `unknown topology ${JSON.stringify(kind)}; allowed: single, fully-connected, isca22, links`);
}

export function parseSystemPreset(json: unknown, file: string, chipOverride?: ChipConfig): SystemConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SfError('a system preset must be a JSON object', file);
  const j = json as Record<string, unknown>;
  const allowed = ['$comment', 'name', 'description', 'chip', 'chips', 'topology', 'links', 'source'];
  for (const k of Object.keys(j)) if (!allowed.includes(k)) throw new SfError(`unknown field ${JSON.stringify(k)}; allowed fields: ${allowed.join(', ')}`, file);
  if (typeof j.chip !== 'string') fail(file, 'chip', 'must name a chip preset (e.g. "tsp-v1") or a chip preset file');
  if (!Number.isInteger(j.chips) || (j.chips as number) < 1 || (j.chips as number) > MAX_CHIPS) fail(file, 'chips', `must be an integer in 1..${MAX_CHIPS}, got ${quoteJson(j.chips)}`);
  if (typeof j.topology !== 'string') fail(file, 'topology', 'must be one of single, fully-connected, isca22, links');
  const chip = chipOverride ?? loadChipPreset(j.chip);
  const chips = j.chips as number;
  const peer = buildTopology(j.topology, chips, chip, file, j.links);
  return {
    name: typeof j.name === 'string' ? j.name : file,
    description: typeof j.description === 'string' ? j.description : '',
    chip, chips, topology: j.topology, peer, file,
  };
}

export function loadSystemPreset(nameOrPath: string, chipOverride?: ChipConfig): SystemConfig {
  const { text, file } = readDataFile(nameOrPath, { dir: PRESETS_DIR, shown: 'presets/systems', what: 'system preset' });
  return parseSystemPreset(parseJsonText(text, file), file, chipOverride);
}

/** A one-chip system around a chip preset (no links wired). */
export function singleChipSystem(chip: ChipConfig): SystemConfig {
  return { name: chip.name, description: 'one chip', chip, chips: 1, topology: 'single', peer: [Array(chip.c2cLinks).fill(null)], file: chip.file };
}
