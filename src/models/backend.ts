/**
 * Chooses the tfjs backend at run time. Production GPU images ship the optional `@tensorflow/tfjs-node-gpu` /
 * `@tensorflow/tfjs-node` packages (libtensorflow); everywhere else we fall back to wasm (XNNPACK, SIMD), then to the
 * pure-JS cpu backend. Each skipped candidate leaves a reason so start-up logs say why training is slower.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmConv2DFilterGradient } from './conv-grad.js';
import { registerWasmConv2DInputGradient } from './conv-input-grad.js';
import { registerBatchNormGradient } from './batchnorm-grad.js';
import { registerReluGradient } from './relu-grad.js';
import { registerWasmMaxPoolGradient } from './pool-grad.js';
import { registerWasmReductions } from './reduce-kernels.js';
import { registerWasmMatMul } from './matmul-kernel.js';
import { registerWasmIdentity } from './identity-kernel.js';
import { registerWasmChannelKernels } from './channel-kernels.js';
import { registerWasmBatchNormTraining } from './batchnorm-train.js';
import { registerWasmWinogradConv2D } from './winograd.js';
import { attachSimdKernels, setWasmFma, type HeapBackend } from './simd-kernels.js';
// tfjs-core's Node bundle registers no gradients by itself; tfjs-layers' bundle does on import (same tfjs-core instance),
// so training never depends on whether some other module happened to import tfjs-layers first.
import '@tensorflow/tfjs-layers';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** What selectBackend settled on, and why it skipped the candidates before it. */
export interface BackendInfo {
  name: 'tensorflow' | 'wasm' | 'cpu';
  /** The npm package that provides the backend. */
  package: string;
  /** Where the math runs: 'gpu', 'cpu (libtensorflow)', 'cpu (wasm simd)', 'cpu (pure js)'. */
  device: string;
  simd?: boolean;
  threads?: boolean;
  /** wasm only: whether the project's SIMD training kernels (simd-kernels.ts) run on the backend's heap. */
  heapKernels?: boolean;
  /** One line per earlier candidate that could not be used, in the order they were tried. */
  fallbackReasons: string[];
}

type Loaded = Omit<BackendInfo, 'fallbackReasons'>;

interface Candidate {
  name: BackendInfo['name'];
  package: string;
  /** Imports the package, activates its backend and describes it; throws if either step fails. */
  load: () => Promise<Loaded>;
}

const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
const TFJS_NODE = '@tensorflow/tfjs-node';
const WASM = '@tensorflow/tfjs-backend-wasm';
const CPU = '@tensorflow/tfjs-backend-cpu';

// A variable specifier keeps TypeScript from resolving the optional packages, which are absent on most machines.
const importOptional = (specifier: string): Promise<unknown> => import(specifier);

/** A tfjs-node package registers backend 'tensorflow' on import; `device` is what its libtensorflow build targets. */
function tensorflowCandidate(pkg: string, device: string): Candidate {
  return {
    name: 'tensorflow',
    package: pkg,
    load: async () => {
      await importOptional(pkg);
      // tfjs-node depends on its own @tensorflow/tfjs; if npm did not dedupe that copy of tfjs-core with ours, the
      // backend lands in the other copy's registry and our ops would never reach it. That cannot happen on a machine
      // without tfjs-node, so this branch is untested here.
      if (tf.findBackend('tensorflow') == null) {
        throw new Error('tfjs-node registered on another tfjs-core instance');
      }
      await activate('tensorflow');
      return { name: 'tensorflow', package: pkg, device };
    },
  };
}

const wasmCandidate: Candidate = {
  name: 'wasm',
  package: WASM,
  load: async () => {
    await loadWasm();
    await activate('wasm');
    const heapKernels = await attachHeapKernels();
    const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    const threads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    const device = `cpu (wasm${simd ? ' simd' : ''}${threads ? ' threads' : ''})`;
    return { name: 'wasm', package: WASM, device, simd, threads, heapKernels };
  },
};

const cpuCandidate: Candidate = {
  name: 'cpu',
  package: CPU,
  load: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await activate('cpu');
    return { name: 'cpu', package: CPU, device: 'cpu (pure js)' };
  },
};

const CANDIDATES: Record<BackendPreference, Candidate[]> = {
  auto: [
    tensorflowCandidate(TFJS_NODE_GPU, 'gpu'),
    tensorflowCandidate(TFJS_NODE, 'cpu (libtensorflow)'),
    wasmCandidate,
    cpuCandidate,
  ],
  tensorflow: [tensorflowCandidate(TFJS_NODE_GPU, 'gpu'), tensorflowCandidate(TFJS_NODE, 'cpu (libtensorflow)')],
  wasm: [wasmCandidate],
  cpu: [cpuCandidate],
};

// The active tfjs backend is process-wide state inside tfjs-core; this mirrors it with the description we built.
let selected: BackendInfo | null = null;

/** Loads and activates the first usable backend for `pref`; throws, listing every reason, if none can be used. */
export async function selectBackend(pref: BackendPreference = 'auto', options: { wasmFma?: boolean } = {}): Promise<BackendInfo> {
  if (options.wasmFma !== undefined) setWasmFma(options.wasmFma);
  // Gradients are shared by every backend; this one only replaces a Tile with broadcasting (same values).
  registerBatchNormGradient();
  // Same values as tfjs-core's Relu gradient; one pass on wasm (relu-grad.ts).
  registerReluGradient();
  const fallbackReasons: string[] = [];
  for (const candidate of CANDIDATES[pref]) {
    try {
      const loaded = await candidate.load();
      selected = { ...loaded, fallbackReasons };
      return selected;
    } catch (err) {
      fallbackReasons.push(`${candidate.package}: ${describeFailure(candidate.package, err)}`);
    }
  }
  throw new Error(
    `tfjs backend '${pref}' is unavailable on this machine (${fallbackReasons.join('; ')}). ` +
      (pref === 'tensorflow'
        ? `Install ${TFJS_NODE} or ${TFJS_NODE_GPU} with its libtensorflow, or choose 'auto'.`
        : `Choose 'auto' to fall back to another backend.`),
  );
}

/** The backend chosen by the last selectBackend, or null if none was chosen or another backend is active now. */
export function currentBackend(): BackendInfo | null {
  return selected != null && tf.getBackend() === selected.name ? selected : null;
}

/** Runs `fn` on the named backend and restores the previous one afterwards; for tests that compare backends. */
export async function withBackend<T>(name: 'cpu' | 'wasm', fn: () => Promise<T> | T): Promise<T> {
  if (name === 'wasm') await loadWasm();
  else await import('@tensorflow/tfjs-backend-cpu');
  // getBackend() is undefined before any backend was set; there is then nothing to restore.
  const previous = tf.getBackend() as string | undefined;
  await activate(name);
  if (name === 'wasm') await attachHeapKernels();
  try {
    return await fn();
  } finally {
    if (previous != null && previous !== name) await activate(previous);
  }
}

/**
 * Registers the wasm backend, the filter-gradient kernel it lacks (without which conv nets cannot train), and an
 * input-gradient kernel that runs on XNNPACK instead of wasm's scalar loop, and a max-pool gradient that streams
 * through memory once.
 */
async function loadWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmConv2DFilterGradient();
  registerWasmConv2DInputGradient();
  registerWasmMaxPoolGradient();
  registerWasmReductions();
  registerWasmMatMul();
  registerWasmIdentity();
  registerWasmChannelKernels();
  registerWasmBatchNormTraining();
  registerWasmWinogradConv2D();
}

/**
 * Attaches the SIMD heap kernels (simd-kernels.ts) to the initialised wasm backend; false when that fails. Without
 * them the kernels that use them fall back to JavaScript loops or the backend's own kernels, so a failure (no
 * WebAssembly SIMD) costs speed, not correctness; `heapKernels` in the backend description says which it is.
 */
async function attachHeapKernels(): Promise<boolean> {
  try {
    await attachSimdKernels(tf.findBackend('wasm') as unknown as HeapBackend);
    return true;
  } catch {
    return false;
  }
}

async function activate(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed to initialise the backend`);
  await tf.ready();
}

/** One line for the log: "not installed" when the package itself is missing, else the first line of the error. */
function describeFailure(pkg: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // Match on the package name so that a missing native binding inside an installed tfjs-node (also a "Cannot find
  // module" error) is reported as the load failure it is.
  if (message.includes(`Cannot find package '${pkg}'`) || message.includes(`Cannot find module '${pkg}'`)) {
    return 'not installed';
  }
  return message.split('\n')[0] ?? message;
}
