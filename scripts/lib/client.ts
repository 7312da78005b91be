/**
 * The HTTP calls the scripts make against a running stack: authorised requests, a Fashion-MNIST subset uploaded as
 * IDX and followed until its dataset is ready, and a report (evaluation or drift) requested and followed until done.
 */
import { FASHION_CLASSES, subsetIdx, type Subset } from './fashion.js';
import type { Stack } from './stack.js';

export interface Client {
  auth: Record<string, string>;
  api(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: unknown): Promise<Response>;
  /** Uploads `subset` with split fractions "train,val,test"; resolves with the ready dataset's view. */
  uploadFashion(name: string, subset: Subset, split: string): Promise<any>;
  /** POSTs a report request (e.g. /v1/evaluations) and resolves with the finished report. */
  report(path: string, body: unknown): Promise<any>;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function connect(stack: Pick<Stack, 'url' | 'apiKey'>): Client {
  const auth = { authorization: `Bearer ${stack.apiKey}` };
  const api = (path: string, init: RequestInit = {}) =>
    fetch(stack.url + path, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
  const post = (path: string, body: unknown) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return {
    auth,
    api,
    post,
    async uploadFashion(name, subset, split) {
      const idx = subsetIdx(subset);
      const body = new FormData();
      body.append('name', name);
      body.append('classNames', FASHION_CLASSES.join(','));
      body.append('split', split);
      body.append('images', new Blob([idx.images]), 'images.idx');
      body.append('labels', new Blob([idx.labels]), 'labels.idx');
      const res = await api('/v1/datasets', { method: 'POST', body });
      const created = (await res.json()) as any;
      if (res.status !== 202) throw new Error(`upload of ${name} failed: ${res.status} ${JSON.stringify(created)}`);
      for (;;) {
        const d = (await (await api(`/v1/datasets/${created.id}`)).json()) as any;
        if (d.status === 'ready') return d;
        if (d.status !== 'queued' && d.status !== 'running') throw new Error(`ingestion of ${name} ${d.status}: ${JSON.stringify(d.error)}`);
        await pause(250);
      }
    },
    async report(path, body) {
      const res = await post(path, body);
      const created = (await res.json()) as any;
      if (res.status !== 202) throw new Error(`${path} failed: ${res.status} ${JSON.stringify(created)}`);
      for (;;) {
        const r = (await (await api(`${path}/${created.id}`)).json()) as any;
        if (r.status === 'ready') return r;
        if (r.status === 'failed') throw new Error(`${path}/${created.id} failed: ${r.error?.detail}`);
        await pause(300);
      }
    },
  };
}
