"""The training peer for `npm run bench:train`: the same two networks as scripts/bench-train-worker.ts, trained the
way a plain PyTorch script would (Adam 1e-3, softmax cross-entropy, the preset's L2 penalty added to the loss), on the
same first N Fashion-MNIST training images, read from the IDX files. Prints one JSON line when done.

  python3 torch_train.py train   --model reference|small|fashion --steps S --warmup W --threads T [--barrier] [--data DIR]
  python3 torch_train.py predict --model reference|small|fashion --threads T --batches 1,16,256 --seconds X [--data DIR]

With --barrier the process prints "ready" after its warm-up steps and waits for a line on stdin before timing, so the
parent can start N trainings' timed windows together.
"""
import argparse
import gzip
import json
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

MEAN, STD = 0.286, 0.353
# Batch sizes as in the TypeScript side: the reference CNN at 64, the small preset at the 32 its dropout was tuned with,
# the fashion preset at its own 128.
BATCH = {"reference": 64, "small": 32, "fashion": 128}
L2 = {"reference": 0.0, "small": 1e-4, "fashion": 0.0}


def reference() -> nn.Sequential:
    # Padding 1 ('same'), like Quorum's architecture spec, which has no 'valid' convolutions: 7·7·64 features.
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 10),
    )


def small() -> nn.Sequential:
    # ARCHITECTURE_PRESETS.small: conv without bias before batch norm (Keras momentum 0.9 = PyTorch 0.1, epsilon 1e-3),
    # dropout 0.1 after each block, dense 128 with dropout 0.2.
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32, eps=1e-3, momentum=0.1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.1),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64, eps=1e-3, momentum=0.1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.1),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 10),
    )


def fashion() -> nn.Sequential:
    # ARCHITECTURE_PRESETS.fashion: three conv blocks (32; 64, 64; 128, 128, 128) without bias before batch norm, max
    # pooling 28 -> 14 -> 7 -> 3, dense 128 with dropout 0.3.
    layers, cin = [], 1
    for block in ((32,), (64, 64), (128, 128, 128)):
        for filters in block:
            layers += [nn.Conv2d(cin, filters, 3, padding=1, bias=False), nn.BatchNorm2d(filters, eps=1e-3, momentum=0.1), nn.ReLU()]
            cin = filters
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(3 * 3 * 128, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


MODELS = {"reference": reference, "small": small, "fashion": fashion}


def read_idx(path: str, count: int, item_bytes: int, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read(header + count * item_bytes)
    return np.frombuffer(raw, dtype=np.uint8, offset=header, count=count * item_bytes)


def normalise(images: torch.Tensor) -> torch.Tensor:
    return ((images.float() / 255.0 - MEAN) / STD).unsqueeze(1)


def l2_penalty(net: nn.Sequential, strength: float) -> torch.Tensor:
    # The kernels Keras regularises: every convolution and every hidden dense layer, not the output layer or biases.
    layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))][:-1]
    return strength * sum((m.weight ** 2).sum() for m in layers)


def train(args: argparse.Namespace) -> dict:
    batch = BATCH[args.model]
    count = min(60_000, batch * (args.warmup + args.steps))
    images = torch.from_numpy(read_idx(f"{args.data}/train-images-idx3-ubyte.gz", count, 784, 16).reshape(count, 28, 28).copy())
    labels = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte.gz", count, 1, 8).astype(np.int64))
    torch.manual_seed(args.seed)
    net = MODELS[args.model]().train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(count)
    strength = L2[args.model]

    def step(s: int) -> None:
        idx = order[s * batch:(s + 1) * batch]
        x, y = normalise(images[idx]), labels[idx]
        optimizer.zero_grad(set_to_none=True)
        logits = net(x)
        loss = loss_fn(logits, y)
        if strength > 0:
            loss = loss + l2_penalty(net, strength)
        loss.backward()
        optimizer.step()
        # Read loss and accuracy back every step, as Quorum's training loop does for its epoch log.
        loss.item()
        (logits.argmax(1) == y).float().mean().item()

    for s in range(args.warmup):
        step(s)
    if args.barrier:
        print("ready", flush=True)
        sys.stdin.readline()
    cpu0 = time.process_time()
    stamps = [time.perf_counter()]
    for s in range(args.warmup, args.warmup + args.steps):
        step(s)
        stamps.append(time.perf_counter())
    cpu = time.process_time() - cpu0
    durations = [b - a for a, b in zip(stamps, stamps[1:])]
    return {
        "samplesPerSecond": args.steps * batch / (stamps[-1] - stamps[0]),
        "medianStepMs": statistics.median(durations) * 1000,
        # CPU time of all the process's threads over the timed steps ÷ their wall time.
        "cpuShare": cpu / (stamps[-1] - stamps[0]),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def predict(args: argparse.Namespace) -> dict:
    batches = [int(b) for b in args.batches.split(",")]
    count = max(batches)
    images = torch.from_numpy(read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz", count, 784, 16).reshape(count, 28, 28).copy())
    torch.manual_seed(args.seed)
    net = MODELS[args.model]().eval()
    rows = []
    with torch.no_grad():
        for batch in batches:
            x = normalise(images[:batch])
            for _ in range(3):
                torch.softmax(net(x), dim=1)
            passes = 0
            start = time.perf_counter()
            elapsed = 0.0
            while elapsed < args.seconds or passes < 3:
                torch.softmax(net(x), dim=1)
                passes += 1
                elapsed = time.perf_counter() - start
            rows.append({"batch": batch, "samplesPerSecond": passes * batch / elapsed, "msPerPass": elapsed / passes * 1000})
    return {"rows": rows, "threads": torch.get_num_threads(), "torch": torch.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["train", "predict"])
    parser.add_argument("--model", choices=list(MODELS), default="reference")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--barrier", action="store_true")
    parser.add_argument("--batches", default="1,16,256")
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(train(args) if args.mode == "train" else predict(args)), flush=True)


if __name__ == "__main__":
    main()
