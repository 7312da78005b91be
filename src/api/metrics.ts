/** Prometheus metrics: request counts and latency per route, and queue depths read at scrape time. */
import type { MiddlewareHandler } from 'hono';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/** A registry of the service's metrics; `queueDepths` is polled on each scrape. */
export interface ServingStats {
  entries: number;
  bytes: number;
  loads: number;
  hits: number;
  evictions: number;
  batches: number;
  instances: number;
  rejected: number;
}

export function createMetrics(
  queueDepths?: () => Promise<Record<string, Record<string, number>>>,
  serving?: () => ServingStats,
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'quorum_' });
  const requests = new Counter({
    name: 'quorum_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'quorum_http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'quorum_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      if (!queueDepths) return;
      const depths = await queueDepths().catch(() => ({}) as Record<string, Record<string, number>>);
      for (const [queue, states] of Object.entries(depths)) {
        for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n);
      }
    },
  });

  new Gauge({
    name: 'quorum_serving',
    help: 'Prediction serving: loaded ensembles, their bytes, cache loads/hits/evictions, batches, instances, 429 rejections',
    labelNames: ['figure'],
    registers: [registry],
    collect() {
      if (!serving) return;
      for (const [figure, value] of Object.entries(serving())) if (typeof value === 'number') this.set({ figure }, value);
    },
  });

  const middleware: MiddlewareHandler = async (c, next) => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      // The matched route pattern (not the raw path) keeps label cardinality bounded.
      const route = c.req.routePath || 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      requests.inc({ method: c.req.method, route, status: String(c.res.status) });
      duration.observe({ method: c.req.method, route }, seconds);
    }
  };
  return { registry, middleware };
}
