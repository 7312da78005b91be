// k6 load test of single-image predictions at rising arrival rates.
//   k6 run -e BASE_URL=http://localhost:8080 -e API_KEY=… -e MODEL=production -e IMAGE=./sample.png loadtests/predict.js
// Thresholds fail the run when p95/p99 latency or the error rate exceed the service's targets; watch
// dropped_iterations: k6 could not start iterations at the asked rate (the server is saturated).
import http from 'k6/http';
import { check } from 'k6';

const BASE = __ENV.BASE_URL || 'http://localhost:8080';
const MODEL = __ENV.MODEL || 'production';
const image = open(__ENV.IMAGE || './sample.png', 'b');
const params = { headers: { Authorization: `Bearer ${__ENV.API_KEY}`, 'Content-Type': 'image/png' } };

const stage = (rate, start) => ({
  executor: 'constant-arrival-rate',
  rate,
  timeUnit: '1s',
  duration: '30s',
  startTime: `${start}s`,
  preAllocatedVUs: 64,
  maxVUs: 256,
});

export const options = {
  scenarios: {
    r100: stage(100, 0),
    r300: stage(300, 35),
    r600: stage(600, 70),
    r1000: stage(1000, 105),
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<50', 'p(99)<100'],
  },
};

export default function () {
  const res = http.post(`${BASE}/v1/models/${MODEL}/predict`, image, params);
  check(res, { 'status is 200': (r) => r.status === 200 });
}
