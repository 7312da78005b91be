import { describe, expect, it } from 'vitest';
import { newId } from '../../../src/ids.js';
import { plannedRunTime } from '../../../src/schedules/processor.js';
import { keys } from '../../../src/storage/keys.js';

describe('drift schedule keys', () => {
  it('keep the definition and the state of a schedule side by side under the tenant', () => {
    const id = newId('sch');
    expect(id).toMatch(/^sch_/);
    expect(keys.driftSchedule('acme', id)).toBe(`tenants/acme/drift-schedules/${id}.json`);
    expect(keys.driftSchedule('acme', id, 'state')).toBe(`tenants/acme/drift-schedules/${id}.state.json`);
    expect(keys.driftSchedule('acme', id).startsWith(keys.driftSchedules('acme'))).toBe(true);
  });

  it('read schedule ids back from definition keys only', () => {
    const id = newId('sch');
    expect(keys.scheduleIdOfKey(keys.driftSchedule('acme', id))).toBe(id);
    expect(keys.scheduleIdOfKey(keys.driftSchedule('acme', id, 'state'))).toBeNull();
    expect(keys.scheduleIdOfKey('tenants/acme/drift-schedules/notes.json')).toBeNull();
  });

  it('refuse ids and tenants that could escape the prefix', () => {
    expect(() => keys.driftSchedule('acme', '../x')).toThrow();
    expect(() => keys.driftSchedule('../acme', newId('sch'))).toThrow();
    expect(keys.tenantOfPrefix('tenants/acme/')).toBe('acme');
    expect(keys.tenantOfPrefix('tenants/Acme/')).toBeNull();
    expect(keys.tenantOfPrefix('tenants/acme/models/')).toBeNull();
  });
});

describe('the run time of a firing', () => {
  const now = Date.parse('2026-03-01T10:00:05Z');

  it('is the time the job scheduler planned, read from its job id', () => {
    expect(plannedRunTime({ id: `repeat:sch_abc:${now - 5000}` }, now)).toBe(now - 5000);
  });

  it('is now for any other id, or a planned time in the future', () => {
    expect(plannedRunTime({ id: 'custom-id' }, now)).toBe(now);
    expect(plannedRunTime({ id: undefined }, now)).toBe(now);
    expect(plannedRunTime({ id: `repeat:sch_abc:${now + 60_000}` }, now)).toBe(now);
  });
});
