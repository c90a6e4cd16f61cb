// Chip power for the SRAM system's energy estimate: a figure per chip preset with its kind and
// source, or the user's own (--chip-power W). Chip presets carry no power field, and Groq
// publishes no TDP for TSP v1 in the primary sources of shared/design/chip-facts.md, so the
// tsp-v1 figure is the press figure, labelled as such.
import type { ChipConfig } from '../chip/config.js';

export interface PowerFigure {
  /** Watts per chip. */
  watts: number;
  kind: 'published' | 'secondary' | 'assumption' | 'user';
  source: string;
}

/** Power per chip by preset name. */
const KNOWN: Record<string, PowerFigure> = {
  'tsp-v1': {
    watts: 300,
    kind: 'secondary',
    source:
      'press: TechSpot, techspot.com/news/83719 ("Groq launches first AI accelerator card"): "The Groq TSP demands 300W per core" (one core per chip); ' +
      'not in the ISCA 2020/2022 papers. Used as the chip power whether busy or not, so an upper-side estimate for decode.',
  },
};

/** The power figure for `chip`: the user's watts if given, else the known figure, else null. */
export function chipPower(chip: ChipConfig, userWatts?: number): PowerFigure | null {
  if (userWatts !== undefined) return { watts: userWatts, kind: 'user', source: '--chip-power' };
  return KNOWN[chip.name] ?? null;
}
