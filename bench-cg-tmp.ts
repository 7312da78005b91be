import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { withBackend } from './src/models/backend.js';
tf.env().set('PROD', true);
for (const be of ['wasm', 'cpu'] as const) {
  await withBackend(be, () => {
    const x = tf.randomNormal([8, 28, 28, 32]); const w = tf.randomNormal([3, 3, 32, 64]);
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same');
    const g = tf.grads(f); tf.dispose(g([x, w]));
    const t = performance.now(); for (let i = 0; i < 1; i++) { const r = g([x, w]); r[1].dataSync(); tf.dispose(r); }
    console.log(be, ((performance.now() - t) / 1).toFixed(0), 'ms per conv backward (dx+dW), 8×28×28×32→64');
    tf.dispose([x, w]);
  });
}
