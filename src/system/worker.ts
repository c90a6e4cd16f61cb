// A worker thread owning one ChipGroup (see system.ts). It answers one request at a time.
import { parentPort } from 'node:worker_threads';
import { ChipGroup, type GroupSpec, type Delivery } from './group.js';

let group: ChipGroup | null = null;

type Request =
  | { type: 'init'; spec: GroupSpec; module: WebAssembly.Module }
  | { type: 'step'; limit: number; deliveries: Delivery[] }
  | { type: 'summaries' }
  | { type: 'hashes' };

parentPort!.on('message', async (m: Request) => {
  try {
    let value: unknown;
    if (m.type === 'init') {
      group = await ChipGroup.create(m.spec, m.module);
      value = true;
    } else if (m.type === 'step') value = group!.step(m.limit, m.deliveries);
    else if (m.type === 'summaries') value = group!.summaries();
    else value = group!.hashes();
    parentPort!.postMessage({ ok: true, value });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
