"""The serving peer for `npm run bench:predict`: a straightforward PyTorch + FastAPI/uvicorn server for the same
5-member ensemble shape as Quorum's `small` preset (conv 32 + BN + ReLU + max-pool, conv 64 + BN + ReLU + max-pool,
dense 128 + ReLU, dense 10, softmax), one request per forward pass, no batching. Weights are random (seeded):
latency does not depend on what the members learned. Answers like Quorum: label, confidence, probabilities, and
the members' spread. Usage: python3 torch_serve.py PORT [MEMBERS]
"""
import io
import math
import sys

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from PIL import Image

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MEAN, STD = 0.286, 0.353


def member(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1, bias=False), torch.nn.BatchNorm2d(32), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Dropout(0.1),
        torch.nn.Conv2d(32, 64, 3, padding=1, bias=False), torch.nn.BatchNorm2d(64), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Dropout(0.1),
        torch.nn.Flatten(), torch.nn.Linear(7 * 7 * 64, 128), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(128, len(CLASSES)),
    )
    return net.eval()


members = [member(s) for s in range(int(sys.argv[2]) if len(sys.argv) > 2 else 5)]
app = FastAPI()


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.post("/predict")
async def predict(request: Request):
    body = await request.body()
    try:
        image = Image.open(io.BytesIO(body)).convert("L").resize((28, 28))
    except Exception as err:  # noqa: BLE001 - any decode failure is the client's
        raise HTTPException(status_code=400, detail=f"not an image: {err}") from err
    x = (torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0) - MEAN) / STD
    with torch.no_grad():
        probs = torch.stack([torch.softmax(m(x.view(1, 1, 28, 28)), dim=1)[0] for m in members])
    mean = probs.mean(dim=0)
    k = int(mean.argmax())
    return {
        "label": CLASSES[k],
        "confidence": float(mean[k]),
        "probabilities": {c: float(p) for c, p in zip(CLASSES, mean)},
        "memberStd": float(probs[:, k].std(unbiased=False)),
        "entropy": float(-sum(p * math.log(p) for p in mean.tolist() if p > 0)),
    }


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
