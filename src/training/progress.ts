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

/**
 * Yields the job's events until it ends or `stopped()` says the listener left. The bucket is read every `pollMs`
 * (500 ms) while events keep coming; each quiet read stretches the wait by half, up to `maxPollMs` (4 s). Each read
 * is several object GETs: while one listener polled a 30-minute fashion run twice a second, the API and the S3-protocol
 * server each showed about 6% of a core in `top`, taken from the two members training on a 2-core machine.
 */
export async function* followTrainingJob(
  deps: Pick<TrainingDeps, 'storage'>,
  tenant: string,
  id: string,
  opts: { pollMs?: number; maxPollMs?: number; stopped?: () => boolean } = {},
): AsyncGenerator<ProgressEvent> {
  const pollMs = opts.pollMs ?? 500;
  const maxPollMs = Math.max(pollMs, opts.maxPollMs ?? 4000);
  let wait = pollMs;
  let view = await getTrainingJob(deps, tenant, id);
  const sent = view.members.map(() => 0);
  const memberStatus = view.members.map(() => '');
  let status = '';
  while (!opts.stopped?.()) {
    let news = false;
    for (const m of view.members) {
      for (; sent[m.index] < m.history.length; sent[m.index]++) {
        news = true;
        yield { event: 'epoch', data: { member: m.index, ...m.history[sent[m.index]] } };
      }
      if (m.status !== memberStatus[m.index]) {
        news = true;
        memberStatus[m.index] = m.status;
        yield { event: 'member', data: { member: m.index, status: m.status, metrics: m.metrics, error: m.error } };
      }
    }
    if (view.status !== status) {
      news = true;
      status = view.status;
      yield { event: 'status', data: { status, modelId: view.run.modelId, error: view.run.error } };
    }
    if (TERMINAL.has(view.status)) {
      yield { event: 'end', data: { status: view.status, modelId: view.run.modelId ?? null } };
      return;
    }
    wait = news ? pollMs : Math.min(maxPollMs, wait * 1.5);
    await new Promise((r) => setTimeout(r, wait));
    view = await getTrainingJob(deps, tenant, id);
  }
}
