#!/usr/bin/python3
"""ref_bpe.py — reference byte-level BPE for metascope's tokenizer tests.

Writes tests/fixtures/tokenizer/ (run from the repository root, with Debian's
python3 and python3-regex; no other packages):

  gpt2/vocab.json, gpt2/merges.txt   GPT-2 layout (<|endoftext|> at the end)
  gpt2_json/tokenizer.json           the same tokenizer as HF tokenizer.json
  llama3/tokenizer.json              Llama-3 layout: Split regex + ByteLevel,
                                     ignore_merges, [a,b] merges, added tokens
  odd/tokenizer.json                 merge ranks out of build order, no regex
  cases.json                         test strings (hex) and the expected ids

The encoder follows the published GPT-2 algorithm (bytes_to_unicode, get_pairs,
merging the lowest-ranked pair everywhere until none applies), plus the rules
metascope adds for raw bytes: added tokens are split out first (leftmost,
longest); the rest is cut into maximal valid UTF-8 segments and maximal runs of
invalid bytes; an invalid run is one pre-token; a valid segment is cut by the
regex, and text between matches is a pre-token too.
"""
import json
import os
import random
import sys
from collections import Counter

import regex

GPT2_PAT = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"""
            r"""|\s+(?!\S)|\s+""")
LLAMA3_PAT = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+"""
              r"""|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
OUT = "tests/fixtures/tokenizer"
N_VOCAB = 600


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character table."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENC = bytes_to_unicode()          # insertion order = GPT-2's id order
BYTE_DEC = {c: b for b, c in BYTE_ENC.items()}


def to_uni(bs):
    return "".join(BYTE_ENC[b] for b in bs)


def utf8_segments(data):
    """Maximal valid UTF-8 segments and maximal runs of invalid bytes, as
    (bytes, valid) in order. A byte starts a valid character when the strict
    decoder accepts the sequence its lead byte announces."""
    segs, i, n = [], 0, len(data)
    while i < n:
        b = data[i]
        k = 1 if b < 0x80 else 2 if b >> 5 == 6 else 3 if b >> 4 == 14 else 4 if b >> 3 == 30 else 0
        ok = False
        if k and i + k <= n:
            try:
                data[i:i + k].decode("utf-8")
                ok = True
            except UnicodeDecodeError:
                pass
        step = k if ok else 1
        if segs and segs[-1][1] == ok:
            segs[-1][0].extend(data[i:i + step])
        else:
            segs.append([bytearray(data[i:i + step]), ok])
        i += step
    return [(bytes(s), ok) for s, ok in segs]


def regex_pieces(pat, s):
    """Matches of pat in s, plus the gaps between them, in order."""
    out, pos = [], 0
    for m in pat.finditer(s):
        if m.start() > pos:
            out.append(s[pos:m.start()])
        if m.end() > m.start():
            out.append(m.group())
        pos = m.end()
    if pos < len(s):
        out.append(s[pos:])
    return out


def pretokenize(pat, data):
    """Pre-tokens (bytes) of data that holds no added tokens."""
    out = []
    for seg, ok in utf8_segments(data):
        if not ok:
            out.append(seg)
        else:
            out.extend(p.encode("utf-8") for p in regex_pieces(pat, seg.decode("utf-8")))
    return out


def get_pairs(word):
    return set(zip(word, word[1:]))


class Tok:
    def __init__(self, vocab, merges, pat, added=(), ignore_merges=False):
        self.vocab = vocab                        # piece -> id
        self.ranks = {}
        for i, m in enumerate(merges):            # a later duplicate wins, as in GPT-2
            self.ranks[m] = i
        self.pat = regex.compile(pat)
        self.added = sorted(added, key=lambda a: -len(a[0].encode()))  # (content, id)
        self.ignore_merges = ignore_merges

    def bpe(self, token):
        word = tuple(token)
        if len(word) < 2:
            return list(word)
        pairs = get_pairs(word)
        while True:
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new.extend(word[i:])
                    break
                new.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        return list(word)

    def encode_plain(self, data):
        ids = []
        for p in pretokenize(self.pat, data):
            u = to_uni(p)
            if self.ignore_merges and u in self.vocab:
                ids.append(self.vocab[u])
                continue
            ids.extend(self.vocab[s] for s in self.bpe(u))
        return ids

    def encode(self, data):
        ids, start, i = [], 0, 0
        while i < len(data):
            hit = next(((c, t) for c, t in self.added if data.startswith(c.encode(), i)), None)
            if hit:
                ids.extend(self.encode_plain(data[start:i]))
                ids.append(hit[1])
                i += len(hit[0].encode())
                start = i
            else:
                i += 1
        ids.extend(self.encode_plain(data[start:]))
        return ids


TRAIN_TEXT = """\
The quick brown fox jumps over the lazy dog. It's a sentence that's been used
for a long time to test typewriters, fonts and keyboards; we'll use it too.
Once upon a time, there was a little tokenizer that didn't know how to split
words. It asked the regular expression, and the regular expression said: "I'd
split on letters, numbers, punctuation and spaces, and you'll merge the rest."
So the tokenizer counted every pair of bytes, and the most frequent pair became
a new token, again and again, until the vocabulary was full. They're still
counting today. You've probably seen them: the, and, ing, tion, ment, ness.

In 1969, 12 astronauts began a journey of 384400 kilometres. Prices rose 3.5%
in 2023; the index went from 4,521.07 to 4,890.33 points. Call 555-0199 or
write to 221B Baker Street. Version 10.2.1 was released on 2024-06-30 at 14:05.
Pi is about 3.14159265358979, e is about 2.718281828, and 1/3 = 0.333...

def tokenize(text):
    # Split the text into words, then merge byte pairs.
    words = text.split()
    return [merge(w) for w in words if len(w) > 0]

for (int i = 0; i < n; i++) { sum += x[i] * y[i]; } // dot product
if (a != b && c >= d) return -1; else return a->next;

Le café de la gare est fermé. Où est la bibliothèque ? Noël, été, hôtel, naïve,
déjà vu, crème brûlée. Die Straße ist schön; Über den Wolken muss die Freiheit
wohl grenzenlos sein. ¿Dónde está el baño? El niño comió piña y jalapeños.
São Paulo, Açores, coração. Ελληνικά γράμματα: αβγδε. Русский текст: привет мир.

日本語の文章です。東京は大きな都市です。中文：你好，世界！我们在学习分词。
한국어 문장입니다. 안녕하세요. ไทย भाषा हिन्दी में लिखा है। עברית العربية

Emoji time 😀😃😄 🍕🍔🍟 ❤️ 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ✨ 🚀 — with dashes – and “quotes”.
Punctuation!!! Really??? Yes... (maybe) [sure] {ok} <tag> @user #hashtag $100
    Indented line with tabs\tand\ttabs.
Windows line\r\nendings\r\nhere.

The the THE The the. And and AND. Tokenization tokenizer tokens tokenized.
Learning learned learner learns. Running runner runs ran. Happiness happily.
I'M SHOUTING! HE'S HERE. WE'RE DONE. THEY'VE GONE. I'LL GO. SHE'D KNOW.
"""


def train(text, n_merges):
    """Plain deterministic BPE: most frequent pair; ties -> smallest (bytes, bytes)."""
    pat = regex.compile(GPT2_PAT)
    words = Counter(tuple(bytes([b]) for b in p) for p in pretokenize(pat, text))
    merges = []
    for _ in range(n_merges):
        counts = Counter()
        for w, f in words.items():
            for p in zip(w, w[1:]):
                counts[p] += f
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        new = Counter()
        for w, f in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += f
        words = new
    return merges


def hex_of(b):
    return b.hex()


CASES = [
    ("empty", b""),
    ("ascii", b"Hello world"),
    ("ascii_punct", b"Hello, world! How's it going?"),
    ("contractions", b"don't can't won't shouldn't y'all it's we're they've I'm you'll he'd"),
    ("contractions_upper", b"I'M HERE, YOU'RE THERE, HE'S GONE, WE'VE, THEY'LL, I'D, DON'T 'S 'T"),
    ("apostrophes", "'s 's's ''s 'S 'ſ ’s".encode()),
    ("accents", "café naïve résumé Über Straße São Paulo coração crème brûlée".encode()),
    ("combining", "e\u0301 a\u0308 Z\u0351\u0332 U\u0308ber".encode()),
    ("greek_cyrillic", "Ελληνικά γράμματα, русский текст: привет мир".encode()),
    ("rtl_indic", "עברית العربية हिन्दी में लिखा है। ไทย".encode()),
    ("cjk", "日本語のテキストと中文字符，还有한국어 문장。東京は大きな都市です。".encode()),
    ("fullwidth", "ﬁ ligature ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ ①②③".encode()),
    ("emoji", "I ❤️ 🍕 and 😀😃😄 ✨🚀".encode()),
    ("emoji_zwj", "family 👨‍👩‍👧‍👦 flag 🏳️‍🌈 thumbs 👍🏽 👩🏾‍💻".encode()),
    ("numbers", b"0 12 345 6789 12345 123456 1234567 12345678901234567890"),
    ("numbers_mixed", "3.14159 -42 1,000,000 0x1F 2023-01-01T12:34:56Z abc123def4567 ٣٤٥ ½".encode()),
    ("spaces", b"a  b   c    d     e"),
    ("tabs_newlines", b"a\t\tb\n\nc \r\n d\t \n  e"),
    ("crlf", b"line1\r\nline2\r\n\r\nline3\r\n"),
    ("lead_trail", b"   leading and trailing   "),
    ("only_tabs", b"\t\t\t"),
    ("only_newline", b"\n"),
    ("ws_before_text", b"   \t \n  x"),
    ("unicode_ws", "a\u00a0b\u2003c\u3000d\u2028e\u0085f\u200bg\x1ch\x0bi\x0cj \u00a0 k".encode()),
    ("punct_runs", b"!!! ??? ... --- *** ((()))  [ok] {x: 1}; a->b => c != d"),
    ("symbols", b"$$$ %%% ^^^ &&& ||| \\\\ // ~~~ ``` @user #tag"),
    ("code", b"def foo(x):\n    return x**2 + 1  # comment\n\tif (a != b && c >= d) { y++; }\n"),
    ("control", b"a\x00b\x01\x02\x7f c\x1b[0m"),
    ("invalid_fffe", b"\xff\xfe"),
    ("invalid_mid", b"abc\xffdef \xfe\xfe ghi"),
    ("truncated_mid", b"truncated \xe2\x82 euro \xe2\x82\xac"),
    ("truncated_end", b"end \xe2\x82"),
    ("lone_lead_end", b"caf\xc3"),
    ("lone_continuation", b"lone \x80\x80 continuation \xbf and \xc3\xa9\xa9"),
    ("overlong", b"overlong \xc0\x80 \xc1\xbf \xe0\x80\x80 \xf0\x80\x80\x80 \xe0\x9f\xbf"),
    ("surrogates", b"surrogate \xed\xa0\x80 \xed\xbf\xbf \xed\xa0\xbd\xed\xb8\x80 end"),
    ("too_big", b"too big \xf4\x90\x80\x80 \xf5\x80\x80\x80 \xf8\x88\x80\x80\x80 \xfc\x84"),
    ("truncated_emoji", b"mixed \xf0\x9f\x98 \xf0\x9f\x98\x80 ok \xf0\x9f"),
    ("max_codepoint", b"\xf4\x8f\xbf\xbf max \xef\xbf\xbe\xef\xbf\xbf \xf3\xa0\x80\x81"),
    ("bom", b"\xef\xbb\xbfBOM at start"),
    ("added_gpt2", b"<|endoftext|>Hello<|endoftext|> world<|endoftext|>"),
    ("added_llama3", b"<|begin_of_text|>Hello<|eot_id|><|end_of_text|> [[MASK]]!"),
    ("added_both", b"a<|endoftext|>b<|begin_of_text|>c<|eot_id|>d<|end_of_text|>"),
    ("added_partial", b"<|endoftext <|end_of_text| <|<|eot_id|>|> <|endoftext|>|>"),
    ("added_invalid", b"\xe2<|endoftext|>\x82\xac<|eot_id|>\xff"),
    ("ignore_merges", b" supercalifragilisticexpialidocious and unreachable, supercalifragilisticexpialidocious"),
    ("long_word", b"a" * 300 + b" " + b"b c" * 50),
    ("long_space", b" " * 200 + b"x" + b"\n" * 50),
    ("training_text", TRAIN_TEXT.encode()[:1200]),
]


def odd_layout():
    """A tokenizer whose merge ranks contradict the order tokens were built in
    (a merge may rank before the merges making its parts), and no regex split:
    GPT-2 still merges every occurrence of the best pair of the word as it
    stood, which an encoder built on a priority queue has to reproduce."""
    rnd = random.Random(19)  # a seed where merging one pair at a time would differ
    vocab = {c: i for i, c in enumerate(BYTE_ENC.values())}
    toks, merges = ["a", "b", "c"], []
    while len(merges) < 40:
        x, y = rnd.choice(toks), rnd.choice(toks)
        if (x, y) in merges or len(x + y) > 8:
            continue
        merges.append((x, y))
        if x + y not in vocab:
            vocab[x + y] = len(vocab)
            toks.append(x + y)
    rnd.shuffle(merges)
    j = {"model": {"type": "BPE", "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}}
    os.makedirs(f"{OUT}/odd", exist_ok=True)
    with open(f"{OUT}/odd/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
    tok = Tok(vocab, merges, r"[\s\S]+")
    texts = ["".join(rnd.choice("abc") for _ in range(rnd.randint(1, 40))).encode()
             for _ in range(150)]
    texts += [b"abc abc\xffabc", b"", b"cccccccccccc\nbbbb"]
    return [{"hex": hex_of(b), "ids": tok.encode(b)} for b in texts]


def main():
    here = os.getcwd()
    if not os.path.isdir(os.path.join(here, "tests", "fixtures")):
        sys.exit("run from the repository root")
    os.makedirs(OUT, exist_ok=True)
    base_ids = {c: i for i, c in enumerate(BYTE_ENC.values())}   # GPT-2's byte order
    merges = train(TRAIN_TEXT.encode(), N_VOCAB - 256 - 1)
    vocab = dict(base_ids)
    str_merges = []
    for a, b in merges:
        ua, ub = to_uni(a), to_uni(b)
        str_merges.append((ua, ub))
        if ua + ub not in vocab:        # two pairs may make the same token
            vocab[ua + ub] = len(vocab)

    # GPT-2 layouts: <|endoftext|> is the last vocab entry and an added token.
    eot = len(vocab)
    gvocab = dict(vocab)
    gvocab["<|endoftext|>"] = eot
    gpt2 = Tok(gvocab, str_merges, GPT2_PAT, [("<|endoftext|>", eot)])
    os.makedirs(f"{OUT}/gpt2", exist_ok=True)
    with open(f"{OUT}/gpt2/vocab.json", "w", encoding="utf-8") as f:
        json.dump(gvocab, f, ensure_ascii=False)
    with open(f"{OUT}/gpt2/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        f.writelines(f"{a} {b}\n" for a, b in str_merges)
    bytelevel = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                 "use_regex": True}
    gjson = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eot, "content": "<|endoftext|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": True,
                          "special": True}],
        "normalizer": None, "pre_tokenizer": bytelevel,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                           "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "vocab": gvocab,
                  "merges": [f"{a} {b}" for a, b in str_merges]},
    }
    os.makedirs(f"{OUT}/gpt2_json", exist_ok=True)
    with open(f"{OUT}/gpt2_json/tokenizer.json", "w", encoding="ascii") as f:
        json.dump(gjson, f, ensure_ascii=True, indent=1)   # \uXXXX escapes on purpose

    # Llama-3 layout: whole words only reachable through ignore_merges, added
    # tokens after the vocab, merges as pairs.
    lvocab = dict(vocab)
    for w in (" supercalifragilisticexpialidocious", " unreachable"):
        if to_uni(w.encode()) not in lvocab:
            lvocab[to_uni(w.encode())] = len(lvocab)
    n = len(lvocab)
    added = [("<|begin_of_text|>", n, True), ("<|end_of_text|>", n + 1, True),
             ("<|eot_id|>", n + 2, True), ("[[MASK]]", n + 3, False)]
    llama3 = Tok(lvocab, str_merges, LLAMA3_PAT, [(c, i) for c, i, _ in added],
                 ignore_merges=True)
    ljson = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": s}
                         for c, i, s in added],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PAT}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
             "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                      {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                      {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>",
                                                      "ids": [n], "tokens": ["<|begin_of_text|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": lvocab, "merges": [[a, b] for a, b in str_merges]},
    }
    os.makedirs(f"{OUT}/llama3", exist_ok=True)
    with open(f"{OUT}/llama3/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(ljson, f, ensure_ascii=False)

    odd = odd_layout()
    cases = [{"name": name, "hex": hex_of(b), "gpt2": gpt2.encode(b), "llama3": llama3.encode(b)}
             for name, b in CASES]
    meta = {"gpt2": {"vocab_size": eot + 1, "bos": eot, "eos": eot},
            "llama3": {"vocab_size": n + 4, "bos": n, "eos": n + 1}}
    with open(f"{OUT}/cases.json", "w", encoding="ascii") as f:
        json.dump({"meta": meta, "cases": cases, "odd_cases": odd}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(merges)} merges, gpt2 vocab {eot + 1}, llama3 vocab {n + 4}, {len(cases)} cases")


if __name__ == "__main__":
    main()
