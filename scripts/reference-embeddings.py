#!/usr/bin/env python3
"""Computes reference sentence embeddings for all-MiniLM-L6-v2 from its original
safetensors, independently of llama.cpp and of our GGUF conversion: Hugging Face's
`tokenizers` for the tokens, `safetensors` for the weights, and the BERT encoder written out in numpy (float32), mean
pooling over the tokens, L2 normalisation — what sentence-transformers does. Run once; the
output is committed (tests/fixtures/embeddings/) and the engine's vectors from the converted
model are checked against it (cosine ≥ 0.99).

    python reference-embeddings.py MODEL_DIR OUT.json
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "The quarterly budget review moved to Thursday afternoon.",
    "Stop the program for a little while.",
    "std::thread::sleep puts the current thread to sleep for at least the specified amount of time.",
    "Run code on every element and keep the ones that match.",
    "Iterator::filter creates an iterator which uses a closure to determine if an element should be yielded.",
    "Die Besprechung wurde auf nächste Woche verschoben.",
    "a",
    "Alice will send the revised contract to Bob by Friday; Carol owns the vendor follow-up. " * 3,
    # Longer than the window: cut to 256 tokens, [SEP] kept at the end.
    "The venue for the offsite changed twice, so the catering order was moved to Monday. " * 16,
]

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    # BERT's exact GELU (erf), not the tanh approximation.
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def encode(t, config, ids):
    eps = config["layer_norm_eps"]
    heads = config["num_attention_heads"]
    n = len(ids)
    x = t["embeddings.word_embeddings.weight"][ids]
    x = x + t["embeddings.position_embeddings.weight"][:n] + t["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)
    d = x.shape[1] // heads
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda h, name: h @ t[p + name + ".weight"].T + t[p + name + ".bias"]
        q = lin(x, "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, heads * d)
        x = layer_norm(lin(a, "attention.output.dense") + x,
                       t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"], eps)
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(lin(h, "output.dense") + x, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"], eps)
    v = x.mean(0)
    return v / np.linalg.norm(v)


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    config = json.loads((src / "config.json").read_text())
    # Read with the safetensors package, not the converter's own reader: nothing is shared
    # with the path under test but the file.
    tensors = {k: v.astype(np.float32) for k, v in load_file(str(src / "model.safetensors")).items()}
    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    cases = []
    for s in SENTENCES:
        ids = tok.encode(s).ids
        vec = encode(tensors, config, ids)
        cases.append({"text": s, "tokens": ids, "vector": [round(float(x), 6) for x in vec]})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "model": "all-MiniLM-L6-v2",
        "how": "scripts/reference-embeddings.py: tokenizers + numpy BERT, mean pooling, L2 norm",
        "cases": cases,
    }, indent=1) + "\n")
    print(f"wrote {out} ({len(cases)} sentences)")


if __name__ == "__main__":
    main()
