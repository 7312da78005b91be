/**
 * A training job's progress as a sequence of events: every epoch of every member in order, member status changes,
 * run status changes, then `end`. The bucket is the record, so the sequence replays history first and then polls for
 * what is new; any API process can follow any job.
 */
import { getTrainingJob, type TrainingDeps } from './service.js';

export interface ProgressEvent {
  event: 'epoch' | 'member' | 'status' | 'end';
  data: Record<string, unknown>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Yields the job's events until it ends or `stopped()` says the listener left. */
export async function* followTrainingJob(
  deps: Pick<TrainingDeps, 'storage'>,
  tenant: string,
  id: string,
  opts: { pollMs?: number; stopped?: () => boolean } = {},
): AsyncGenerator<ProgressEvent> {
  let view = await getTrainingJob(deps, tenant, id);
  const sent = view.members.map(() => 0);
  const memberStatus = view.members.map(() => '');
  let status = '';
  while (!opts.stopped?.()) {
    for (const m of view.members) {
      for (; sent[m.index] < m.history.length; sent[m.index]++) {
        yield { event: 'epoch', data: { member: m.index, ...m.history[sent[m.index]] } };
      }
      if (m.status !== memberStatus[m.index]) {
        memberStatus[m.index] = m.status;
        yield { event: 'member', data: { member: m.index, status: m.status, metrics: m.metrics, error: m.error } };
      }
    }
    if (view.status !== status) {
      status = view.status;
      yield { event: 'status', data: { status, modelId: view.run.modelId, error: view.run.error } };
    }
    if (TERMINAL.has(view.status)) {
      yield { event: 'end', data: { status: view.status, modelId: view.run.modelId ?? null } };
      return;
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
    view = await getTrainingJob(deps, tenant, id);
  }
}
