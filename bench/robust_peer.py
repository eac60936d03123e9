#!/usr/bin/env python3
"""The robustness benchmark's peer: ../shared/peers/torch_reference.py's cnn-small and data loading,
extended with PGD (L-infinity, random start, budgets as fractions of the pixel range, so epsilon is
doubled on the [-1, 1] scale, as Curate does), on CPU with the same threads. Times, on the same
manifests as bench/robust.sh gives Curate:
  - a PGD evaluation (clean predictions, then the attack and predictions on its images), and
  - one epoch of PGD adversarial training (Madry et al.: each batch replaced by its PGD images
    against the model in evaluation mode, then one SGD step of the reference recipe).
Prints JSON. usage: robust_peer.py --train M.csv --test M.csv [--eps 8/255] [--eval-steps 10] [--train-steps 7]
"""
import argparse, json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers"))
import torch
import torch.nn.functional as F
from torch_reference import CNNSmall, load


def fraction(text):
    a, _, b = text.partition("/")
    return float(a) / float(b) if b else float(a)


def pgd(model, x, y, eps, steps, step, generator):
    """PGD in evaluation mode: every image stays within eps (on [-1, 1]) of x and inside [-1, 1]."""
    model.eval()
    adv = (x + torch.empty_like(x).uniform_(-eps, eps, generator=generator)).clamp(-1, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, adv)
        with torch.no_grad():
            adv = torch.min(torch.max(adv + step * g.sign(), x - eps), x + eps).clamp(-1, 1)
    return adv.detach()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--eps", default="8/255")
    ap.add_argument("--eval-steps", type=int, default=10)
    ap.add_argument("--train-steps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    _, xtr, ytr, _, classes = load(a.train, 28, 1)
    _, xte, yte, _, _ = load(a.test, 28, 1, classes)
    eps = 2 * fraction(a.eps)
    g = torch.Generator().manual_seed(a.seed)
    model = CNNSmall(1, 28, len(classes))

    # One epoch of adversarial training (the reference recipe: SGD 0.05, momentum 0.9, wd 5e-4, batch 128).
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    t = time.perf_counter()
    perm = torch.randperm(len(ytr), generator=g)
    for i in range(0, len(ytr), 128):
        idx = perm[i:i + 128]
        adv = pgd(model, xtr[idx], ytr[idx], eps, a.train_steps, 2.5 * eps / a.train_steps, g)
        model.train()
        loss = F.cross_entropy(model(adv), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_seconds = time.perf_counter() - t

    # The PGD evaluation of the trained model.
    t = time.perf_counter()
    model.eval()
    with torch.no_grad():
        clean = torch.cat([model(xte[i:i + 512]).argmax(1) for i in range(0, len(xte), 512)])
    robust = torch.cat([model(pgd(model, xte[i:i + 512], yte[i:i + 512], eps, a.eval_steps, 2.5 * eps / a.eval_steps, g)).argmax(1)
                        for i in range(0, len(xte), 512)])
    eval_seconds = time.perf_counter() - t
    print(json.dumps({
        "torch": torch.__version__, "threads": a.threads,
        "adversarial_epoch_seconds": train_seconds, "adversarial_train_images_per_s": len(ytr) / train_seconds,
        "pgd_eval_seconds": eval_seconds, "pgd_eval_images_per_s": len(yte) / eval_seconds,
        "clean_accuracy": (clean == yte).float().mean().item(), "robust_accuracy": (robust == yte).float().mean().item(),
    }))


if __name__ == "__main__":
    main()
