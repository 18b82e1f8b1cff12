"""Build the conversational trigram LM (ARPA, gzip) the recogniser loads, from chitchat-dataset's training split.

Interpolated Witten-Bell smoothing (Witten & Bell 1991; Chen & Goodman 1998, eq. 16), written out as a backoff
ARPA model whose backoff weights renormalise over the n-grams kept after count pruning. Words are restricted to
pocketsphinx's en-us dictionary; a sentence with any other word is dropped. The held-out split is the brain's
(10 % of conversations by SHA-256 of the id, as llm.data.dialogue.is_heldout) and is only used for perplexity.

    python -m perception.audio.build_lm [--out perception/audio/lm/chitchat.arpa.gz]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import itertools
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

HELDOUT_PERCENT = 10.0
DEFAULT_OUT = Path(__file__).with_name("lm") / "chitchat.arpa.gz"
BOS, EOS = "<s>", "</s>"
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|[\n;]+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def dictionary_words() -> set[str]:
    """Words of pocketsphinx's shipped en-us pronunciation dictionary (alternates like 'the(2)' folded)."""
    import pocketsphinx

    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    with path.open(encoding="utf-8", errors="replace") as fh:
        return {line.split(maxsplit=1)[0].split("(")[0] for line in fh if line.strip()}


def is_heldout(conversation_id: str, heldout_percent: float = HELDOUT_PERCENT) -> bool:
    """The corpus's fixed split: SHA-256 of the id as a number mod 10,000 below heldout_percent * 100."""
    return int(hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:12], 16) % 10_000 < heldout_percent * 100


def corpus_messages() -> Iterator[tuple[str, str]]:
    """(conversation id, message text) for every message of the installed chitchat-dataset corpus."""
    import chitchat_dataset

    path = Path(chitchat_dataset.__file__).with_name("dataset.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    for cid in sorted(raw):
        for group in raw[cid].get("messages", []):
            for msg in group:
                yield cid, str(msg.get("text", ""))


def sentences(text: str) -> Iterator[list[str]]:
    """Lower-case word lists of the sentences of one chat message (apostrophes kept: "i'm", "don't")."""
    text = text.lower().replace("\u2019", "'").replace("`", "'")
    for part in _SENT_SPLIT.split(text):
        words = _WORD.findall(part)
        if words:
            yield words


@dataclass
class Counts:
    """n-gram counts of sentences padded with <s> ... </s>."""

    uni: Counter
    bi: Counter
    tri: Counter


def count(sents: Iterable[list[str]]) -> Counts:
    """Unigram, bigram and trigram counts (the unigram count of <s> is not part of the distribution)."""
    uni, bi, tri = Counter(), Counter(), Counter()
    for s in sents:
        w = [BOS, *s, EOS]
        uni.update(w[1:])
        bi.update(itertools.pairwise(w))
        tri.update(zip(w, w[1:], w[2:]))
    return Counts(uni, bi, tri)


def _histories(ngrams: Counter) -> tuple[dict, dict]:
    """Per history: total count c(h) and number of distinct followers N1+(h .)."""
    total, types = defaultdict(int), defaultdict(int)
    for g, c in ngrams.items():
        total[g[:-1]] += c
        types[g[:-1]] += 1
    return total, types


@dataclass
class ArpaModel:
    """log10 probabilities and backoff weights per order, ready to write."""

    uni: dict[str, tuple[float, float]]
    bi: dict[tuple[str, str], tuple[float, float]]
    tri: dict[tuple[str, str, str], float]


def witten_bell(c: Counts, bigram_min: int = 1, trigram_min: int = 2) -> ArpaModel:
    """Interpolated Witten-Bell trigram model: p(w|h) = (c(h,w) + N1+(h.) p(w|h')) / (c(h) + N1+(h.)).

    The unigram level interpolates with the uniform distribution (Chen & Goodman 1998, eq. 16). n-grams under the
    count cut-offs are dropped and each history's backoff weight is recomputed so that its row sums to one."""
    vocab = sorted(c.uni)
    n_tok, v = sum(c.uni.values()), len(vocab)
    p1 = {w: (c.uni[w] + 1.0) / (n_tok + v) for w in vocab}      # N1+(.) = V distinct words; base 1/V
    h2_tot, h2_typ = _histories(c.bi)
    h3_tot, h3_typ = _histories(c.tri)

    def p2_full(u: str, w: str) -> float:
        t, n = h2_tot.get((u,), 0), h2_typ.get((u,), 0)
        return p1[w] if t == 0 else (c.bi.get((u, w), 0) + n * p1[w]) / (t + n)

    kept2 = {g: p2_full(*g) for g, k in c.bi.items() if k >= bigram_min}
    bow1: dict[str, float] = {}
    rows2: dict[str, list[str]] = defaultdict(list)
    for (u, w) in kept2:
        rows2[u].append(w)
    for u, ws in rows2.items():
        num = 1.0 - sum(kept2[(u, w)] for w in ws)
        den = 1.0 - sum(p1[w] for w in ws)
        bow1[u] = max(num, 1e-12) / max(den, 1e-12)

    def p2_arpa(u: str, w: str) -> float:
        return kept2.get((u, w)) or bow1.get(u, 1.0) * p1[w]

    kept3 = {}
    for g, k in c.tri.items():
        if k >= trigram_min and (g[0], g[1]) in kept2:
            t, n = h3_tot[g[:2]], h3_typ[g[:2]]
            kept3[g] = (k + n * p2_arpa(g[1], g[2])) / (t + n)
    rows3: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (a, b, w) in kept3:
        rows3[(a, b)].append(w)
    bow2: dict[tuple[str, str], float] = {}
    for h, ws in rows3.items():
        num = 1.0 - sum(kept3[(*h, w)] for w in ws)
        den = 1.0 - sum(p2_arpa(h[1], w) for w in ws)
        bow2[h] = max(num, 1e-12) / max(den, 1e-12)
    lg = math.log10
    uni = {w: (lg(p1[w]), lg(bow1.get(w, 1.0))) for w in vocab}
    uni[BOS] = (-99.0, lg(bow1.get(BOS, 1.0)))
    bi = {g: (lg(p), lg(bow2.get(g, 1.0))) for g, p in kept2.items()}
    tri = {g: lg(p) for g, p in kept3.items()}
    return ArpaModel(uni, bi, tri)


def logprob(m: ArpaModel, u: str, v: str, w: str) -> float:
    """log10 p(w | u v) under the backoff model (unknown words are the caller's to skip)."""
    if (u, v, w) in m.tri:
        return m.tri[(u, v, w)]
    bow = m.bi[(u, v)][1] if (u, v) in m.bi else 0.0
    if (v, w) in m.bi:
        return bow + m.bi[(v, w)][0]
    return bow + m.uni[v][1] + m.uni[w][0]


def perplexity(m: ArpaModel, sents: Iterable[list[str]]) -> tuple[float, int]:
    """Per-word perplexity (with </s>) over sentences whose words are all in the model; and the word count."""
    total, n = 0.0, 0
    for s in sents:
        w = [BOS, BOS, *s, EOS]
        for i in range(2, len(w)):
            u = w[i - 2] if i > 2 else "<none>"
            total += logprob(m, u, w[i - 1], w[i])
            n += 1
    return 10 ** (-total / max(n, 1)), n


def write_arpa(m: ArpaModel, path: Path) -> None:
    """Write the model as gzip-compressed ARPA text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = gzip.GzipFile(path, "wb", compresslevel=9, mtime=0)   # mtime 0: the same corpus gives the same bytes
    with io.TextIOWrapper(raw, encoding="utf-8") as fh:
        fh.write(f"\\data\\\nngram 1={len(m.uni)}\nngram 2={len(m.bi)}\nngram 3={len(m.tri)}\n\n\\1-grams:\n")
        for w in sorted(m.uni):
            p, b = m.uni[w]
            fh.write(f"{p:.4f} {w} {b:.4f}\n")
        fh.write("\n\\2-grams:\n")
        for g in sorted(m.bi):
            p, b = m.bi[g]
            fh.write(f"{p:.4f} {g[0]} {g[1]}" + (f" {b:.4f}\n" if b != 0.0 else "\n"))
        fh.write("\n\\3-grams:\n")
        for g in sorted(m.tri):
            fh.write(f"{m.tri[g]:.4f} {' '.join(g)}\n")
        fh.write("\n\\end\\\n")


def build(out: Path = DEFAULT_OUT, min_word_count: int = 2, bigram_min: int = 2, trigram_min: int = 2) -> str:
    """Build and write the LM; returns a one-paragraph summary (sizes, dropped sentences, held-out perplexity)."""
    vocab = dictionary_words()
    train, held = [], []
    dropped = 0
    for cid, text in corpus_messages():
        for s in sentences(text):
            if all(w in vocab for w in s):
                (held if is_heldout(cid) else train).append(s)
            else:
                dropped += 1
    freq = Counter(w for s in train for w in s)
    train = [s for s in train if all(freq[w] >= min_word_count for w in s)]
    model = witten_bell(count(train), bigram_min=bigram_min, trigram_min=trigram_min)
    write_arpa(model, out)
    known = [s for s in held if all(w in model.uni for w in s)]
    ppl, n = perplexity(model, known)
    return (f"{out}: {out.stat().st_size / 1e6:.2f} MB gzip; {len(model.uni)} words, {len(model.bi)} bigrams, "
            f"{len(model.tri)} trigrams from {len(train)} training sentences ({dropped} sentences with words "
            f"outside the pocketsphinx dictionary dropped); held-out perplexity {ppl:.1f} over {n} words "
            f"({len(known)}/{len(held)} held-out sentences in vocabulary)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--min-word-count", type=int, default=2)
    ap.add_argument("--bigram-min", type=int, default=2)
    ap.add_argument("--trigram-min", type=int, default=2)
    args = ap.parse_args(argv)
    print(build(args.out, min_word_count=args.min_word_count, bigram_min=args.bigram_min,
                trigram_min=args.trigram_min))
    return 0


if __name__ == "__main__":
    sys.exit(main())
