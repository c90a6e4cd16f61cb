// A worker thread owning one ChipGroup (see system.ts). It answers one request at a time.
import { parentPort } from 'node:worker_threads';
import { ChipGroup, type GroupSpec, type Delivery } from './group.js';
import { SfError } from '../util/errors.js';

let group: ChipGroup | null = null;

type Request =
  | { type: 'init'; spec: GroupSpec; module: WebAssembly.Module }
  | { type: 'step'; limit: number; deliveries: Delivery[] }
  | { type: 'summaries' }
  | { type: 'hashes' }
  | { type: 'tensors'; names: string[] };

parentPort!.on('message', async (m: Request) => {
  try {
    let value: unknown;
    if (m.type === 'init') {
      group = await ChipGroup.create(m.spec, m.module);
      value = true;
    } else if (m.type === 'step') value = group!.step(m.limit, m.deliveries);
    else if (m.type === 'summaries') value = group!.summaries();
    else if (m.type === 'tensors') value = group!.tensors(m.names);
    else value = group!.hashes();
    parentPort!.postMessage({ ok: true, value });
  } catch (e) {
    // an SfError crosses back as one (the command line prints it as bad input, not a crash)
    const sf = e instanceof SfError ? { message: e.where && e.message.startsWith(`${e.where}: `) ? e.message.slice(e.where.length + 2) : e.message, where: e.where } : undefined;
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e), sf });
  }
});
