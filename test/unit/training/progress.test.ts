import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keys } from '../../../src/storage/keys.js';
import { followTrainingJob, type ProgressEvent } from '../../../src/training/progress.js';

const JOB = 'job_0123456789ab';

/**
 * A bucket that holds one running job with two members: `getJson` answers the run manifest and the member records
 * from this in-memory state and counts how often the run manifest is read (once per poll).
 */
function fakeJob() {
  const state = {
    reads: 0,
    run: { status: 'running', updatedAt: '2026-11-23T00:00:00Z', config: { seeds: [1, 2] }, datasetId: 'ds_1' } as Record<string, unknown>,
    members: [
      { index: 0, seed: 1, status: 'running', history: [{ epoch: 1 }], resumedAt: [] },
      { index: 1, seed: 2, status: 'running', history: [], resumedAt: [] },
    ] as { index: number; seed: number; status: string; history: unknown[]; resumedAt: unknown[] }[],
  };
  const storage = {
    getJson: async (key: string) => {
      const member = state.members.findIndex((_, k) => key === keys.runMember('t', JOB, k));
      if (member >= 0) return structuredClone(state.members[member]);
      if (key !== keys.runManifest('t', JOB)) return null;
      state.reads++;
      return structuredClone(state.run);
    },
  };
  return { state, deps: { storage } as never };
}

describe('followTrainingJob', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls every 500 ms while events come and backs off to 4 s while the job is quiet', async () => {
    const { state, deps } = fakeJob();
    const events: ProgressEvent[] = [];
    let stop = false;
    const done = (async () => {
      for await (const e of followTrainingJob(deps, 't', JOB, { stopped: () => stop })) events.push(e);
    })();
    await vi.advanceTimersByTimeAsync(0);
    expect(events.filter((e) => e.event === 'epoch')).toHaveLength(1);
    // 30 quiet seconds: waits of 0.75, 1.1, 1.7, 2.5, 3.8 s, then 4 s each: 10 reads, where 500 ms polling makes 60.
    const before = state.reads;
    await vi.advanceTimersByTimeAsync(30_000);
    const quietReads = state.reads - before;
    expect(quietReads).toBeGreaterThanOrEqual(8);
    expect(quietReads).toBeLessThanOrEqual(12);
    // A new epoch is picked up within one (long) wait, and polling is quick again after it.
    state.members[1].history.push({ epoch: 1 });
    await vi.advanceTimersByTimeAsync(4_000);
    expect(events.filter((e) => e.event === 'epoch')).toHaveLength(2);
    const afterNews = state.reads;
    await vi.advanceTimersByTimeAsync(800);
    expect(state.reads - afterNews).toBe(1);
    // The listener leaves: the generator returns at its next wake-up, at most 4 s away.
    stop = true;
    await vi.advanceTimersByTimeAsync(4_000);
    await done;
    expect(events.filter((e) => e.event === 'end')).toHaveLength(0);
  });
});
