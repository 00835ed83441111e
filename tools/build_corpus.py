#!/usr/bin/python3
"""build_corpus.py — build metascope's English training corpus from Debian packages.

Sources (all read from installed Debian packages, listed in tools/corpus_packages.txt):
  fortunes-min, fortunes,        fortune cookies; category "fortunes/<file>" (e.g.
  fortune-anarchism,             "fortunes/science"); the offensive off/ sets and the
  fortunes-bofh-excuses          ascii-art pictures are left out
  wordnet-base                   one document per WordNet synset ("lemma, lemma: gloss;
                                 \"example\""); category = lexicographer file, e.g.
                                 "noun.food" (names from lexnames(5WN))
  dict-devil                     The Devil's Dictionary; category "devil"
  dict-jargon                    The Jargon File 4.4.7; category "jargon"
  dict-foldoc                    FOLDOC; category "foldoc/<subject>" from the entry's
                                 first <subject> tag ("foldoc/other" if rare or absent)

Every document is normalised (UTF-8 with a Latin-1 fallback, \\n line ends, terminal
overstrikes resolved, double-encoded UTF-8 repaired, control characters removed, trailing
blanks stripped, runs of blank lines collapsed to one, Unicode NFC); documents that are
empty or mostly symbols (tables, code, pictures: under 50% letters) are dropped, exact
duplicates are dropped keeping the first in the fixed source order above, and each
document goes to a split by the SHA-1 of its text: int(sha1[:8], 16) % 100 < 90 → train,
< 95 → valid, else test. Inside a split the documents are ordered by that SHA-1 (a fixed
shuffle).

Outputs in --out (default assets/corpus), byte-identical for the same inputs and tools:
  train.jsonl.lz4, valid.jsonl.lz4, test.jsonl.lz4   JSON lines
      {"id": ..., "text": ..., "source": <Debian package>, "category": ...}
      as lz4 frames (lz4 CLI, level 12, with content size)
  MANIFEST.json      sources (package, version, license, bytes, documents, per split),
                     totals, splits, xz -9e bits per byte, category table
  categories.tsv     category, source, train_docs, valid_docs, test_docs, bytes
  LICENSES.txt       the copyright files of the source packages (and the GFDL text)

Runs with Debian's /usr/bin/python3 and the standard library only, plus the lz4 and xz
command-line tools.  Usage: tools/build_corpus.py [--out DIR] [--check-deps]
"""

import argparse
import concurrent.futures
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PACKAGES_FILE = HERE / "corpus_packages.txt"

FORTUNE_DIR = "/usr/share/games/fortunes/"
FORTUNE_EXCLUDE = {"ascii-art"}  # pictures, not prose
WORDNET_DIR = "/usr/share/wordnet/"
LEXNAMES_MAN = "/usr/share/man/man5/lexnames.5WN.gz"
DICTD_DIR = "/usr/share/dictd/"
FOLDOC_MIN_CATEGORY = 20  # smaller FOLDOC subjects are folded into "foldoc/other"

# The fixed source order (deduplication keeps the first occurrence in this order).
# "license_check" is a phrase that must appear in /usr/share/doc/PKG/copyright, so that a
# changed license is noticed instead of recorded wrongly.
SOURCES = [
    dict(package="fortunes-min", kind="fortune",
         license="BSD-3-Clause (fortune-mod, Regents of the University of California)",
         license_check="BSD copyright"),
    dict(package="fortunes", kind="fortune",
         license="BSD-3-Clause (fortune-mod, Regents of the University of California)",
         license_check="BSD copyright"),
    dict(package="fortune-anarchism", kind="fortune",
         license="public-domain (BLAG Fortune Assortment Project)",
         license_check="dedicated to the public domain"),
    dict(package="fortunes-bofh-excuses", kind="fortune",
         license="public-domain", license_check="public domain"),
    dict(package="wordnet-base", kind="wordnet",
         license="WordNet-3.0 (Princeton University; permissive, keep the notice)",
         license_check="WordNet 3.0 Copyright 2006 by Princeton University"),
    dict(package="dict-devil", kind="dict", dict_name="devil",
         license="public-domain (Ambrose Bierce, The Devil's Dictionary, 1911)",
         license_check="public domain"),
    dict(package="dict-jargon", kind="dict", dict_name="jargon",
         license="public-domain (The Jargon File 4.4.7)",
         license_check="in the public domain"),
    dict(package="dict-foldoc", kind="dict", dict_name="foldoc",
         license="GFDL-1.1-or-later, no invariant sections (FOLDOC, Denis Howe)",
         license_check="GNU Free Documentation"),
]
TOOL_PACKAGES = ["lz4", "xz-utils"]
SPLITS = ("train", "valid", "test")


# ----------------------------------------------------------------------------- checks

def read_package_list():
    pkgs = []
    for line in PACKAGES_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pkgs.append(line)
    return pkgs


def dpkg_field(pkg, field):
    r = subprocess.run(["dpkg-query", "-W", "-f=${%s}" % field, pkg],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def check_packages():
    """Return the list of packages from corpus_packages.txt that are not installed."""
    return [p for p in read_package_list()
            if dpkg_field(p, "db:Status-Status") != "installed"]


def package_files(pkg):
    r = subprocess.run(["dpkg-query", "-L", pkg], stdout=subprocess.PIPE, text=True,
                       check=True)
    return sorted(set(l for l in r.stdout.splitlines() if l.strip()))


# ------------------------------------------------------------------------ normalising

CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\ufeff]")
MOJIBAKE_RE = re.compile("[\xc2-\xf4][\x80-\xbf]")
BLANKS_RE = re.compile(r"\n{3,}")


def decode(raw):
    """UTF-8, or Latin-1 for byte strings that are not valid UTF-8."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("latin-1"), True


def fix_mojibake(text):
    """Undo UTF-8 decoded as Latin-1 (once or more): "donÃ¢ÂÂt" → "don’t".

    Only when the whole text round-trips, so genuine Latin-1 letters are left alone."""
    for _ in range(3):
        if not MOJIBAKE_RE.search(text):
            break
        try:
            text = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            break
    return text


def resolve_overstrike(line):
    """Render backspace overstrikes as a terminal would ("_\\bx" and "x\\b_" → "x")."""
    buf, pos = [], 0
    for ch in line:
        if ch == "\b":
            pos = max(0, pos - 1)
            continue
        if pos < len(buf):
            old = buf[pos]
            if ch == "_" and old != " ":
                pass  # underline: keep the letter
            else:
                buf[pos] = ch
        else:
            buf.append(ch)
        pos += 1
    return "".join(buf)


def normalise(text):
    text = fix_mojibake(text.replace("\r\n", "\n").replace("\r", "\n"))
    if "\b" in text:
        text = "\n".join(resolve_overstrike(l) for l in text.split("\n"))
    text = CONTROL_RE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = "\n".join(l.rstrip() for l in text.split("\n"))
    text = BLANKS_RE.sub("\n\n", text)
    return text.lstrip("\n").rstrip()


# --------------------------------------------------------------------------- sources
# Each reader yields (id, category, raw_text, decoded_with_fallback) and records the
# input files it read in `inputs`.

def read_fortunes(src, inputs):
    for path in package_files(src["package"]):
        if not path.startswith(FORTUNE_DIR) or path.endswith((".dat", ".u8")):
            continue
        rel = path[len(FORTUNE_DIR):]
        if rel.startswith("off/") or "/off/" in rel or rel in FORTUNE_EXCLUDE:
            continue
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        if not os.path.exists(path + ".dat"):  # not a strfile'd fortune file
            continue
        inputs.append(path)
        raw = Path(path).read_bytes().replace(b"\r\n", b"\n")
        entries = re.split(rb"(?m)^%\n", raw + b"\n" if not raw.endswith(b"\n") else raw)
        for i, e in enumerate(entries):
            text, fb = decode(e)
            yield "%s:%s:%d" % (src["package"], rel, i), "fortunes/" + rel, text, fb


# Lexicographer file names, numbered as in lexnames(5WN) of WordNet 3.0.  When the man
# page is installed (some minimal systems drop man pages) the table is checked against it.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact "
    "noun.attribute noun.body noun.cognition noun.communication noun.event noun.feeling "
    "noun.food noun.group noun.location noun.motive noun.object noun.person "
    "noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation "
    "noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative "
    "verb.weather adj.ppl").split()


def read_lexnames(inputs):
    names = dict(enumerate(LEXNAMES))
    if os.path.exists(LEXNAMES_MAN):
        inputs.append(LEXNAMES_MAN)
        found = {}
        with gzip.open(LEXNAMES_MAN, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"^(\d\d)\t(\S+)\s", line)
                if m:
                    found[int(m.group(1))] = m.group(2)
        if found != names:
            raise SystemExit("error: %s disagrees with the built-in lexicographer file "
                             "names" % LEXNAMES_MAN)
    return names


def read_wordnet(src, inputs):
    lexnames = read_lexnames(inputs)
    for pos in ("noun", "verb", "adj", "adv"):
        path = WORDNET_DIR + "data." + pos
        inputs.append(path)
        with open(path, "rb") as f:
            for raw in f:
                if raw.startswith(b"  "):  # license header
                    continue
                line, fb = decode(raw.rstrip(b"\n"))
                head, sep, gloss = line.partition(" | ")
                fields = head.split()
                offset, lexfile, _sstype, wcnt = fields[0], int(fields[1]), fields[2], \
                    int(fields[3], 16)
                words = []
                for k in range(wcnt):
                    w = fields[4 + 2 * k]
                    w = re.sub(r"\((a|p|ip)\)$", "", w).replace("_", " ")
                    if w not in words:
                        words.append(w)
                text = ", ".join(words) + ": " + gloss.strip()
                yield "wn:%s:%s" % (pos, offset), lexnames[lexfile], text, fb


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64num(s):
    v = 0
    for c in s:
        v = v * 64 + B64.index(c)
    return v


XREF_RE = re.compile(r"\{([^{}]*)\}")
FOLDOC_TAG_RE = re.compile(r"<([a-z][a-z0-9 ,/'-]*)>")
FOLDOC_TAG_LINE_RE = re.compile(r"(?m)^((?:\d+\.\s+)?)<[a-z][a-z0-9 ,/'-]*>\s*")
DATE_LINE_RE = re.compile(r"(?m)^\s*\(\d{4}-\d\d-\d\d\)\s*$")


def dict_entries(name, inputs):
    """Yield (headwords, text) for each distinct entry of a dictd database."""
    index_path = DICTD_DIR + name + ".index"
    data_path = DICTD_DIR + name + ".dict.dz"
    inputs += [index_path, data_path]
    with gzip.open(data_path, "rb") as f:
        data = f.read()
    heads = {}
    for line in Path(index_path).read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        key = (b64num(parts[1]), b64num(parts[2]))
        heads.setdefault(key, []).append(parts[0])
    for (off, length) in sorted(heads):
        hw = heads[(off, length)]
        if any(h.startswith(("00-database", "00database")) for h in hw):
            continue
        yield hw, data[off:off + length]


BOX_RE = re.compile("[\u2500-\u257f]")
MIN_ALPHA = 0.5  # letters / non-blank characters below this: a table, code or a picture


def alpha_ratio(text):
    ink = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in ink) / len(ink) if ink else 0.0


def is_table(par):
    """A paragraph of a dictionary entry that is a table, code or a picture."""
    return bool(BOX_RE.search(par)) or (par.count("\n") >= 2 and
                                        alpha_ratio(par) < MIN_ALPHA)


def plain_refs(text):
    """"{cross reference}" → "cross reference" (whitespace inside collapsed)."""
    return XREF_RE.sub(lambda m: " ".join(m.group(1).split()), text)


def read_dict(src, inputs):
    name = src["dict_name"]
    for hw, raw in dict_entries(name, inputs):
        text, fb = decode(raw)
        text = text.replace("\r\n", "\n").strip("\n")
        eid = "%s:%s" % (src["package"], hw[0])
        if name == "devil":
            yield eid, "devil", textwrap.dedent(text), fb
            continue
        header, _, body = text.partition("\n\n")
        hlines = [l.strip() for l in header.split("\n") if l.strip()]
        if not hlines:
            continue
        body = textwrap.dedent(body.strip("\n"))
        if name == "jargon":
            # "headword" + " /pronunciation/, n." → "headword /pronunciation/, n."
            title = " ".join(hlines)
            category = "jargon"
        else:  # foldoc: first header line is the headword, the others are aliases
            title = hlines[0]
            m = FOLDOC_TAG_RE.search(body[:400])
            category = m.group(1).split(",")[0].strip() if m else ""
            body = FOLDOC_TAG_LINE_RE.sub(lambda m: m.group(1), body)
            body = DATE_LINE_RE.sub("", body)
        body = plain_refs(body).strip()
        body = "\n\n".join(p for p in body.split("\n\n") if not is_table(p))
        if len(body.split()) < 5:  # a bare cross-reference ("see {x}") or a stub
            continue
        yield eid, category, title + "\n\n" + body, fb


READERS = {"fortune": read_fortunes, "wordnet": read_wordnet, "dict": read_dict}


# ------------------------------------------------------------------------- building

def split_of(sha):
    b = int(sha[:8], 16) % 100
    return "train" if b < 90 else ("valid" if b < 95 else "test")


def xz_size(data):
    """Size of `xz -9e` output for data (the xz CLI; liblzma through lzma as fallback)."""
    xz = shutil.which("xz")
    if xz:
        r = subprocess.run([xz, "-9e", "-c", "-T1"], input=data, stdout=subprocess.PIPE,
                           check=True)
        return len(r.stdout)
    import lzma
    return len(lzma.compress(data, format=lzma.FORMAT_XZ,
                             preset=9 | lzma.PRESET_EXTREME))


def bpb(compressed, raw):
    return round(8.0 * compressed / raw, 4) if raw else None


def lz4_compress(src, dst):
    tmp = dst.with_name(dst.name + ".tmp")
    subprocess.run(["lz4", "-12", "-f", "-q", "--content-size", str(src), str(tmp)],
                   check=True)
    os.replace(tmp, dst)


def write_if_changed(path, data):
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build(out):
    docs = []           # dicts in the fixed source order
    seen = set()
    stats = {}
    for src in SOURCES:
        pkg = src["package"]
        copyright_path = "/usr/share/doc/%s/copyright" % pkg
        ctext = Path(copyright_path).read_text(encoding="utf-8", errors="replace")
        if src["license_check"].lower() not in ctext.lower():
            raise SystemExit("error: %s: the license in %s has changed (no %r); "
                             "review it and update SOURCES" %
                             (pkg, copyright_path, src["license_check"]))
        st = dict(package=pkg, version=dpkg_field(pkg, "Version"),
                  license=src["license"], copyright=copyright_path,
                  raw_documents=0, empty=0, filtered=0, duplicates=0,
                  latin1_fallback=0,
                  inputs=[])
        stats[pkg] = st
        for did, category, text, fb in READERS[src["kind"]](src, st["inputs"]):
            st["raw_documents"] += 1
            st["latin1_fallback"] += int(fb)
            text = normalise(text)
            if not text:
                st["empty"] += 1
                continue
            if src["kind"] != "wordnet" and alpha_ratio(text) < MIN_ALPHA:
                st["filtered"] += 1  # mostly digits, symbols or pictures
                continue
            sha = hashlib.sha1(text.encode("utf-8")).hexdigest()
            if sha in seen:
                st["duplicates"] += 1
                continue
            seen.add(sha)
            docs.append(dict(id=did, text=text, source=pkg, category=category, sha=sha,
                             split=split_of(sha), nbytes=len(text.encode("utf-8"))))

    # FOLDOC: fold rare or missing subjects into foldoc/other.
    fcount = {}
    for d in docs:
        if d["source"] == "dict-foldoc":
            fcount[d["category"]] = fcount.get(d["category"], 0) + 1
    for d in docs:
        if d["source"] == "dict-foldoc":
            c = d["category"]
            d["category"] = "foldoc/" + (c.replace(" ", "-")
                                         if c and fcount[c] >= FOLDOC_MIN_CATEGORY
                                         else "other")

    out.mkdir(parents=True, exist_ok=True)
    by_split = {s: sorted((d for d in docs if d["split"] == s), key=lambda d: d["sha"])
                for s in SPLITS}
    files = {}
    with tempfile.TemporaryDirectory(prefix="corpus.") as tmpd:
        for s in SPLITS:
            lines = "".join(json.dumps({"id": d["id"], "text": d["text"],
                                        "source": d["source"],
                                        "category": d["category"]},
                                       ensure_ascii=False, separators=(", ", ": ")) + "\n"
                            for d in by_split[s]).encode("utf-8")
            jpath = Path(tmpd) / ("%s.jsonl" % s)
            jpath.write_bytes(lines)
            dst = out / ("%s.jsonl.lz4" % s)
            lz4_compress(jpath, dst)
            files[s] = dict(path=dst.name, documents=len(by_split[s]),
                            text_bytes=sum(d["nbytes"] for d in by_split[s]),
                            jsonl_bytes=len(lines),
                            jsonl_sha256=hashlib.sha256(lines).hexdigest(),
                            lz4_bytes=dst.stat().st_size)

    # xz -9e baselines: each split alone, all the text, and the held-out splits with
    # the training text as context: xz(train + "\n\n" + held-out) - xz(train).
    def joined(ds):
        return "\n\n".join(d["text"] for d in ds).encode("utf-8")
    texts = {s: joined(by_split[s]) for s in SPLITS}
    texts["all"] = joined(sorted(docs, key=lambda d: d["sha"]))
    jobs = dict(texts)
    for s in ("valid", "test"):
        jobs["train+" + s] = texts["train"] + b"\n\n" + texts[s]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        sizes = dict(zip(jobs, ex.map(xz_size, jobs.values())))
    xz_bpb = {k: bpb(sizes[k], len(texts[k])) for k in SPLITS + ("all",)}
    xz_given = {s: bpb(sizes["train+" + s] - sizes["train"], len(texts[s]) + 2)
                for s in ("valid", "test")}

    # Tables.
    cats = {}
    for d in docs:
        c = cats.setdefault(d["category"], dict(source=d["source"], documents=0, bytes=0,
                                                train=0, valid=0, test=0))
        if c["source"] != d["source"]:
            raise SystemExit("error: category %s spans two sources" % d["category"])
        c["documents"] += 1
        c["bytes"] += d["nbytes"]
        c[d["split"]] += 1
    sources = []
    for src in SOURCES:
        st = stats[src["package"]]
        mine = [d for d in docs if d["source"] == src["package"]]
        st.update(documents=len(mine), bytes=sum(d["nbytes"] for d in mine),
                  categories=len(set(d["category"] for d in mine)),
                  splits={s: dict(documents=sum(1 for d in mine if d["split"] == s),
                                  bytes=sum(d["nbytes"] for d in mine if d["split"] == s))
                          for s in SPLITS})
        sources.append({k: st[k] for k in
                        ("package", "version", "license", "copyright", "bytes",
                         "documents", "categories", "splits", "raw_documents", "empty",
                         "filtered", "duplicates", "latin1_fallback", "inputs")})
    manifest = dict(
        format="metascope-corpus-1",
        description="English text from Debian packages, one document per JSON line "
                    "{id, text, source, category}; built by tools/build_corpus.py",
        split_rule="int(sha1(utf8 text)[:8], 16) % 100: < 90 train, < 95 valid, "
                   "else test; documents ordered by sha1 inside each split",
        normalisation="UTF-8 (Latin-1 fallback), \\n line ends, overstrikes resolved, "
                      "double-encoded UTF-8 repaired, control characters and soft "
                      "hyphens removed, trailing blanks stripped, blank-line runs "
                      "collapsed to one, NFC; empty documents and documents under 50% "
                      "letters (tables, code, pictures; not WordNet) dropped; exact "
                      "duplicates dropped keeping the first in source order",
        compression="lz4 frame (lz4 -12 --content-size)",
        tools={p: dpkg_field(p, "Version") for p in TOOL_PACKAGES},
        sources=sources,
        totals=dict(documents=len(docs), bytes=sum(d["nbytes"] for d in docs),
                    categories=len(cats),
                    lz4_bytes=sum(f["lz4_bytes"] for f in files.values())),
        splits=files,
        xz_bits_per_byte=xz_bpb,
        xz_bits_per_byte_note="xz -9e on the split's texts joined by \"\\n\\n\" "
                              "(\"all\": every document, in sha1 order); a model must "
                              "beat the valid/test figures on held-out text",
        xz_bits_per_byte_given_train=xz_given,
        xz_bits_per_byte_given_train_note="(xz(train + held-out) - xz(train)) * 8 / "
                                          "held-out bytes: xz using the training text",
        categories={k: cats[k] for k in sorted(cats)},
    )
    write_if_changed(out / "MANIFEST.json",
                     (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
                     .encode("utf-8"))
    tsv = ["category\tsource\ttrain_docs\tvalid_docs\ttest_docs\tbytes"]
    tsv += ["%s\t%s\t%d\t%d\t%d\t%d" % (k, c["source"], c["train"], c["valid"], c["test"],
                                        c["bytes"]) for k, c in sorted(cats.items())]
    write_if_changed(out / "categories.tsv", ("\n".join(tsv) + "\n").encode("utf-8"))
    lic = ["Licenses of the texts in this corpus (built by tools/build_corpus.py from "
           "Debian packages).\nEach section is the package's /usr/share/doc/PKG/copyright "
           "file, verbatim.\nThe texts were reformatted (normalised, split into "
           "documents, markup and cross-reference braces removed).\n"]
    for st in sources:
        lic.append("=" * 78 + "\n%s %s — %s\n" % (st["package"], st["version"],
                                                   st["license"]) + "=" * 78 + "\n")
        lic.append(Path(st["copyright"]).read_text(encoding="utf-8", errors="replace")
                   .rstrip() + "\n")
    gfdl = Path("/usr/share/common-licenses/GFDL-1.3")
    if gfdl.exists():
        lic.append("=" * 78 + "\nGNU Free Documentation License 1.3 (for dict-foldoc; "
                   "/usr/share/common-licenses/GFDL-1.3)\n" + "=" * 78 + "\n")
        lic.append(gfdl.read_text(encoding="utf-8").rstrip() + "\n")
    write_if_changed(out / "LICENSES.txt", "\n".join(lic).encode("utf-8"))
    return manifest


def summary(m, out):
    p = print
    p("corpus written to %s" % out)
    p("%-22s %-16s %9s %11s  %s" % ("package", "version", "docs", "bytes", "license"))
    for s in m["sources"]:
        p("%-22s %-16s %9d %11d  %s" % (s["package"], s["version"], s["documents"],
                                         s["bytes"], s["license"]))
    t = m["totals"]
    p("%-22s %-16s %9d %11d  (%d categories, %d bytes lz4)" %
      ("total", "", t["documents"], t["bytes"], t["categories"], t["lz4_bytes"]))
    for s in SPLITS:
        f = m["splits"][s]
        p("split %-6s %8d docs %11d bytes  %9d bytes lz4  xz -9e %.3f bits/byte" %
          (s, f["documents"], f["text_bytes"], f["lz4_bytes"], m["xz_bits_per_byte"][s]))
    p("xz -9e on all text: %.3f bits/byte; with the training text as context: "
      "valid %.3f, test %.3f bits/byte" %
      (m["xz_bits_per_byte"]["all"], m["xz_bits_per_byte_given_train"]["valid"],
       m["xz_bits_per_byte_given_train"]["test"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "assets" / "corpus"),
                    help="output directory (default: assets/corpus)")
    ap.add_argument("--check-deps", action="store_true",
                    help="only check that the needed Debian packages are installed")
    args = ap.parse_args()
    missing = check_packages()
    if missing:
        sys.stderr.write("error: missing Debian packages: %s\nrun (as root): "
                         "apt-get install -y --no-install-recommends %s\n"
                         "(or `make assets`, which installs them)\n"
                         % (" ".join(missing), " ".join(missing)))
        return 2
    if args.check_deps:
        return 0
    out = Path(args.out)
    summary(build(out), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
