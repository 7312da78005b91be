/**
 * Activations that commute with max pooling, by name (tfjs-layers' and the inference plan's): for a non-decreasing f,
 * max(f(a), f(b), …) = f(max(a, b, …)) exactly, and the gradients agree (both reach the window's arg-max with f'
 * there), but where rounding makes f equal at two inputs of a window, which for these happens only where f' is zero
 * or vanishing (ReLU's negatives, ELU's saturated tail). Swish is not monotonic, softmax not elementwise. Models are
 * built with the pool first where their activation is one of these; the inference plan moves it back into the
 * convolution's epilogue.
 */
export const COMMUTES_WITH_MAX_POOL: ReadonlySet<string> = new Set(['relu', 'relu6', 'elu', 'selu', 'sigmoid', 'tanh']);
