#!/usr/bin/python3
"""A toy next-token model on an evatok token dataset (docs/tokens-for-ar.md).

    toy_ar.py DATASET OUT_DATASET [--steps N] [--samples K] [--model TOKENIZER]

Trains a small GRU (PyTorch; Debian: python3-torch) on the records of
DATASET: each record is one sequence, with the token count of each block
given as a length token before its ids (the adaptive length is part of
what the model learns). It then samples K records and writes them as a
token dataset that `evatok detokenize` turns into video. A toy, to show
the plumbing: it learns token statistics, not good video.
"""
import argparse
import sys

import numpy as np
import torch

from evatok.dataset import TokenDataset, TokenDatasetWriter

ap = argparse.ArgumentParser()
ap.add_argument("dataset")
ap.add_argument("out")
ap.add_argument("--steps", type=int, default=300)
ap.add_argument("--samples", type=int, default=4)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
torch.manual_seed(a.seed)

ds = TokenDataset(a.dataset)
model_info = ds.metadata["model"]
V = int(model_info["codebook_size"])
choices = [int(c) for c in model_info["choices"]]
NB = int(model_info["num_blocks"])
# Vocabulary: ids 0..V-1, then one length token per choice, then BOS.
LEN0, BOS = V, V + len(choices)


def sequence(r):
    out = [BOS]
    for n, block in zip(r.tokens_per_block, r.blocks()):
        out.append(LEN0 + choices.index(int(n)))
        out.extend(int(t) for t in block)
    return out


seqs = [torch.tensor(sequence(r)) for r in ds]
if not seqs:
    sys.exit("the dataset has no records")


class ToyAR(torch.nn.Module):
    def __init__(self, vocab, dim=128):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.rnn = torch.nn.GRU(dim, dim, batch_first=True)
        self.head = torch.nn.Linear(dim, vocab)

    def forward(self, x, h=None):
        y, h = self.rnn(self.emb(x), h)
        return self.head(y), h


net = ToyAR(BOS + 1)
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for step in range(1, a.steps + 1):
    batch = [seqs[i] for i in torch.randint(len(seqs), (8,))]
    x = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True, padding_value=-1)
    inp, tgt = x[:, :-1].clamp(min=0), x[:, 1:]
    logits, _ = net(inp)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, BOS + 1), tgt.reshape(-1), ignore_index=-1)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == a.steps:
        print("step %d: loss %.3f (%.2f bits/token)" % (step, loss.item(), loss.item() / np.log(2)))


@torch.no_grad()
def sample():
    """One record: per block, a length token among the choices, then that many ids."""
    tok, h, tpb, ids = torch.tensor([[BOS]]), None, [], []
    for _ in range(NB):
        logits, h = net(tok, h)
        lens = logits[0, -1, LEN0:LEN0 + len(choices)]
        c = int(torch.multinomial(torch.softmax(lens, 0), 1))
        tpb.append(choices[c])
        tok = torch.tensor([[LEN0 + c]])
        for _ in range(choices[c]):
            logits, h = net(tok, h)
            t = int(torch.multinomial(torch.softmax(logits[0, -1, :V], 0), 1))
            ids.append(t)
            tok = torch.tensor([[t]])
    return np.array(tpb), np.array(ids)


with TokenDatasetWriter(a.out, ds.metadata, fps=ds[0].fps) as w:
    for k in range(a.samples):
        tpb, ids = sample()
        w.add(ids, tpb, source="toy_ar sample", start=k * model_info["clip_frames"])
print("wrote %d sampled records to %s (evatok detokenize %s --out video.y4m)" % (a.samples, a.out, a.out))
