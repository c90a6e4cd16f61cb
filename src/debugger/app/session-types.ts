// The JSON the server sends at GET /api/session (built by src/debugger/session.ts).
import type { ChipConfig } from '../../chip/config.js';

/** Reference values per tensor name (row-major); "name@chip" applies to one chip only. */
export type References = Record<string, number[]>;

export interface Session {
  version: 1;
  /** The program file as given (relative to the server's working directory when inside it). */
  file: string;
  chip: ChipConfig;
  system: {
    name: string;
    description: string;
    chips: number;
    topology: string;
    peer: ({ chip: number; link: number } | null)[][];
  } | null;
  chips: number;
  /** Distinct programs as base64 binary containers (with debug lines). */
  programs: string[];
  /** Program index of each chip. */
  chipProgram: number[];
  /** Text of the program's source file, or null (a container whose source is not at hand). */
  source: string | null;
  sourceName: string;
  references: References | null;
  referenceFile: string | null;
}
