/** Resources integration tests create over HTTP: Fashion-MNIST uploads, and polling a resource until it finishes. */
import { expect } from 'vitest';
import { FASHION_CLASSES, subsetIdx, type Subset } from '../fixtures/fashion.js';
import { form, type TestService } from './service.js';

/** Uploads a subset as IDX files and waits until it is ready; by default all of it goes to the train split. */
export async function uploadSubset(svc: TestService, s: Subset, split = '1,0,0'): Promise<string> {
  const idx = subsetIdx(s);
  const res = await svc.request('/v1/datasets', {
    method: 'POST',
    body: form({ classNames: FASHION_CLASSES.join(','), split }, { images: { data: idx.images, name: 'i' }, labels: { data: idx.labels, name: 'l' } }),
  });
  const { id } = (await res.json()) as { id: string };
  expect((await svc.waitForDataset(id)).status).toBe('ready');
  return id;
}

/** Polls `path` until the resource is ready, succeeded, failed or cancelled, and returns it. */
export async function untilFinished(svc: TestService, path: string, timeoutMs = 600_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const body = (await (await svc.request(path)).json()) as any;
    if (['ready', 'failed', 'succeeded', 'cancelled'].includes(body.status)) return body;
    if (Date.now() > until) throw new Error(`${path} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
