"""The pulse's maths: how similar the team's answers are, which groups they form, and one score.

Nothing here touches the database, the network or a platform; the numbers are plain Python (the
suggestion box's character-n-gram TF-IDF, extended), so start-up pays for no numeric library.

1. Each answer becomes a sparse, L2-normalised TF-IDF vector over
   - character 4-grams of its content words (umlauts folded, stop words and forms of address dropped,
     so "Kunden"/"Kundin"/"Kunde", "zufrieden"/"zufriedenheit" and small typos still share most grams), and
   - shared *concepts* from a small bilingual lexicon of customer-service words ("zufrieden", "satisfied",
     "happy" → one concept), so a German and an English answer that say the same thing meet.
   With a language model enabled, the model's embeddings (cosine) replace these vectors.
2. Clusters: average-linkage agglomerative clustering on cosine similarity, merging while the two
   closest groups are at least ``threshold`` alike. Above ``SAMPLE`` answers, a fixed sample is
   clustered and every other answer joins the nearest cluster centre (or, if none is close, a second
   round among the leftovers).
3. The alignment score (0–100) is ``100 × (0.7 × P_same + 0.3 × cohesion)``: ``P_same`` is the chance
   that two different colleagues' answers fall in the same cluster, ``cohesion`` the mean pairwise
   cosine similarity of all answers (exact in O(n): (|Σv|² − n) / (n(n − 1)) for unit vectors).
   Five copies of one sentence score 100; five unrelated answers score close to 0.
4. A cluster's label: its most characteristic words (count in the cluster × inverse document
   frequency, one word per stem); its examples: the answers closest to its centre.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

Vector = dict[str, float]

SAMPLE = 300
LOCAL_THRESHOLD = 0.2
EMBEDDING_THRESHOLD = 0.55
P_SAME_WEIGHT = 0.7
CONCEPT_WEIGHT = 3.0

_STOPWORDS_TEXT = """
    der die das den dem des ein eine einer eines einem einen und oder aber fuer mit auf ist sind im in zu zum
    zur wir ich es er auch bei nicht aus von an als wie dass wenn noch nur so sehr man mal sein seine ihre
    ihr ihnen ihrem ihren sie du dich dir dein deine deinen deinem euer eure euch uns unser unsere unseren
    unserem unserer mein meine meinen was wer wo hat haben hast habt wird werden wirst soll sollen sollte
    sollten muss muessen musst kann koennen kannst damit dabei dann denn doch schon immer einem jeder jede
    jedes alle allen alles etwas mehr moeglichst ganz eben also einfach ziel ziele zieles goal aim purpose
    kundenservice kundenservices kundendienst service services support team unseres satz sentence
    the and or of to for in on is are be it we our ours with that this they them their you your yours
    my me us as at by an a from so very just really always every all make making sure should must can
    will would do does get gets being been was were have has had what which who whom one think
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

# Customer-service words of both languages, by the concept they share (word prefixes after folding).
LEXICON: dict[str, tuple[str, ...]] = {
    "satisfied": (
        "zufried",
        "satisf",
        "happy",
        "happi",
        "gluecklich",
        "freude",
        "froh",
        "begeist",
        "delight",
        "content",
        "pleased",
        "smile",
        "laecheln",
    ),
    "solve": ("loes", "geloest", "solv", "solution", "resolv", "fix", "behob", "beheb", "klaer", "erledig"),
    "first": ("erst", "first", "einmal", "once", "anhieb", "direkt", "sofort", "immediat"),
    "fast": ("schnell", "fast", "quick", "rasch", "zuegig", "speed", "prompt", "zeitnah", "wartezeit", "wait"),
    "friendly": ("freundl", "friendl", "nett", "kind", "hoeflich", "polite", "courte", "herzlich", "warm"),
    "respect": ("respekt", "respect", "wertschaetz", "appreciat", "augenhoehe", "ernst", "serious"),
    "loyal": (
        "treu",
        "loyal",
        "bindung",
        "wiederkomm",
        "return",
        "stay",
        "bleib",
        "retain",
        "retention",
        "langfrist",
        "long",
    ),
    "recommend": ("empfehl", "empfiehl", "recommend", "weiterempf", "referr", "promot"),
    "sell": ("verkauf", "sell", "sale", "umsatz", "revenue", "upsell", "cross", "abschl", "deal", "zusatz"),
    "cost": ("kosten", "cost", "cheap", "guenstig", "spar", "sav", "effizien", "efficien", "budget", "aufwand"),
    "ticket": ("ticket", "anfrage", "request", "vorgang", "case", "fall", "faelle", "anruf", "call"),
    "fewer": ("wenig", "fewer", "less", "reduz", "reduc", "senk", "lower", "minim"),
    "trust": ("vertrau", "trust", "zuverlaess", "reliab", "verlass", "depend", "versprech", "promise"),
    "listen": ("zuhoer", "hoer", "listen", "versteh", "understand", "empath", "einfuehl", "bedarf", "need"),
}
_CONCEPT_PREFIXES = sorted(((p, c) for c, ps in LEXICON.items() for p in ps), key=lambda pc: -len(pc[0]))


def fold(text: str) -> str:
    """Lower case, umlauts folded (``ä`` → ``ae``), other accents dropped."""
    low = text.lower().translate(_FOLD)
    return "".join(ch for ch in unicodedata.normalize("NFKD", low) if not unicodedata.combining(ch))


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if len(w) >= 3 and w not in STOPWORDS]


def stem(word: str) -> str:
    """A crude German/English stem: enough to tell "Kunden" and "Kunde" are one word in a label."""
    for suffix in ("ungen", "heit", "keit", "ung", "ing", "ern", "en", "er", "es", "ed", "e", "n", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def concepts_of(word: str) -> list[str]:
    """The concept a word stands for: a known prefix, or a longer stem inside a compound ("Kundenzufriedenheit")."""
    return [c for p, c in _CONCEPT_PREFIXES if word.startswith(p) or (len(p) >= 5 and p in word)][:1]


def features(text: str, *, lexicon: bool = True) -> Counter[str]:
    out: Counter[str] = Counter()
    for word in content_words(text):
        padded = f" {word} "
        for i in range(max(1, len(padded) - 3)):
            out[padded[i : i + 4]] += 1
        if lexicon:
            for concept in concepts_of(word):
                out["§" + concept] += 1
    return out


def _normalise(vec: Vector) -> Vector:
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {k: v / norm for k, v in vec.items()} if norm else {}


def dot(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b[k] for k, v in a.items() if k in b)


@dataclass
class Space:
    """TF-IDF vectors of the answers (and any extra text, e.g. the adopted goal) in one vector space."""

    vectors: list[Vector]
    idf: dict[str, float]
    lexicon: bool = True

    def vector(self, text: str) -> Vector:
        raw = features(text, lexicon=self.lexicon)
        return _normalise({g: tf * self.idf.get(g, 1.0) * _boost(g) for g, tf in raw.items()})


def _boost(gram: str) -> float:
    return CONCEPT_WEIGHT if gram.startswith("§") else 1.0


def tfidf(texts: Sequence[str], *, lexicon: bool = True) -> Space:
    docs = [features(t, lexicon=lexicon) for t in texts]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    n = len(docs)
    idf = {g: math.log((1 + n) / (1 + c)) + 1 for g, c in df.items()}
    vectors = [_normalise({g: (1 + math.log(tf)) * idf[g] * _boost(g) for g, tf in d.items()}) for d in docs]
    return Space(vectors, idf, lexicon)


def dense_to_sparse(vectors: Sequence[Sequence[float]]) -> list[Vector]:
    return [_normalise({str(i): float(x) for i, x in enumerate(v) if x}) for v in vectors]


def centroid(vectors: Sequence[Vector]) -> Vector:
    total: defaultdict[str, float] = defaultdict(float)
    for v in vectors:
        for k, x in v.items():
            total[k] += x
    return _normalise(dict(total))


# --- clustering ---------------------------------------------------------------------------------------


def _agglomerate(vectors: Sequence[Vector], threshold: float) -> list[list[int]]:
    """Average-linkage clusters of ``vectors`` (indices), merging while the best pair is >= threshold."""
    n = len(vectors)
    if n == 0:
        return []
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    # Average linkage over unit vectors: the mean pairwise cosine of two groups is dot(sum_a, sum_b)/(|a||b|).
    sums: dict[int, Vector] = {i: dict(vectors[i]) for i in range(n)}
    heap: list[tuple[float, int, int]] = []
    for i in range(n):
        vi = vectors[i]
        for j in range(i + 1, n):
            s = dot(vi, vectors[j])
            if s >= threshold:
                heap.append((-s, i, j))
    heapq.heapify(heap)
    next_id = n
    while heap:
        neg, a, b = heapq.heappop(heap)
        if a not in members or b not in members:
            continue
        merged = members.pop(a) + members.pop(b)
        total: defaultdict[str, float] = defaultdict(float)
        for src in (sums.pop(a), sums.pop(b)):
            for k, x in src.items():
                total[k] += x
        new = next_id
        next_id += 1
        for other, ids in members.items():
            s = dot(total, sums[other]) / (len(merged) * len(ids))
            if s >= threshold:
                heapq.heappush(heap, (-s, other, new))
        members[new] = merged
        sums[new] = dict(total)
    return sorted((sorted(ids) for ids in members.values()), key=lambda c: (-len(c), c[0]))


def cluster(vectors: Sequence[Vector], threshold: float, *, sample: int = SAMPLE, seed: int = 0) -> list[list[int]]:
    """Clusters as lists of indices, biggest first. Large inputs: a sample is clustered, the rest assigned."""
    n = len(vectors)
    if n <= sample:
        return _agglomerate(vectors, threshold)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    picked, rest = order[:sample], order[sample:]
    groups = [[picked[i] for i in c] for c in _agglomerate([vectors[i] for i in picked], threshold)]
    centres = [centroid([vectors[i] for i in g]) for g in groups]
    # Inverted index of the centres' features, so each answer is compared only with centres it shares with.
    index: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
    for ci, c in enumerate(centres):
        for k, x in c.items():
            index[k].append((ci, x))
    leftovers: list[int] = []
    for i in rest:
        scores: defaultdict[int, float] = defaultdict(float)
        for k, x in vectors[i].items():
            for ci, y in index.get(k, ()):
                scores[ci] += x * y
        best = max(scores.items(), key=lambda kv: kv[1], default=None)
        if best is not None and best[1] >= threshold:
            groups[best[0]].append(i)
        else:
            leftovers.append(i)
    if leftovers:
        more = cluster([vectors[i] for i in leftovers], threshold, sample=sample, seed=seed + 1)
        groups += [[leftovers[i] for i in c] for c in more]
    return sorted((sorted(g) for g in groups), key=lambda c: (-len(c), c[0]))


# --- scores -------------------------------------------------------------------------------------------


def cohesion(vectors: Sequence[Vector]) -> float:
    """Mean pairwise cosine of unit vectors, in O(n)."""
    n = len(vectors)
    if n < 2:
        return 1.0 if n else 0.0
    total: defaultdict[str, float] = defaultdict(float)
    for v in vectors:
        for k, x in v.items():
            total[k] += x
    squared = sum(x * x for x in total.values())
    present = sum(1 for v in vectors if v)
    return max(0.0, min(1.0, (squared - present) / (n * (n - 1))))


def p_same(sizes: Sequence[int]) -> float:
    n = sum(sizes)
    if n < 2:
        return 1.0 if n else 0.0
    return sum(s * (s - 1) for s in sizes) / (n * (n - 1))


def alignment(sizes: Sequence[int], vectors: Sequence[Vector]) -> int:
    return round(100 * (P_SAME_WEIGHT * p_same(sizes) + (1 - P_SAME_WEIGHT) * cohesion(vectors)))


def adjusted_rand_index(truth: Sequence[object], found: Sequence[object]) -> float:
    """Hubert and Arabie's adjusted Rand index of two labelings of the same items."""
    n = len(truth)
    pairs = Counter(zip(truth, found, strict=True))
    a, b = Counter(truth), Counter(found)

    def c2(x: int) -> float:
        return x * (x - 1) / 2

    index = sum(c2(v) for v in pairs.values())
    sum_a, sum_b = sum(c2(v) for v in a.values()), sum(c2(v) for v in b.values())
    expected = sum_a * sum_b / c2(n) if n > 1 else 0.0
    top = (sum_a + sum_b) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


# --- the whole result ---------------------------------------------------------------------------------


@dataclass
class Group:
    members: list[int]
    label_words: list[str]
    examples: list[int]  # indices, closest to the centre first
    centre: Vector


@dataclass
class Analysis:
    score: int
    groups: list[Group]
    vectors: list[Vector]
    method: str  # "local" | "embeddings"
    goal_closeness: int | None = None
    goal_near: int | None = None  # answers near the goal
    assignment: dict[int, int] = field(default_factory=dict)  # answer index -> group index

    def place(self, index: int) -> tuple[int, int]:
        """(group index, closeness 0–100 of the answer to its group's centre)."""
        g = self.assignment[index]
        return g, round(100 * max(0.0, dot(self.vectors[index], self.groups[g].centre)))


def _label_key(word: str) -> str:
    """Words that share their first six letters after stemming count as one in a label ("zufrieden", "zufriedene")."""
    return stem(word)[:6]


def _display_words(text: str) -> list[tuple[str, str]]:
    """(folded, as written in lower case) for each content word: labels show "lösen", not "loesen"."""
    out = []
    for raw in re.findall(r"[^\W_]+", text.lower()):
        folded = fold(raw)
        if len(folded) >= 3 and folded not in STOPWORDS and _WORD.fullmatch(folded):
            out.append((folded, raw))
    return out


def _labels(texts: Sequence[str], groups: Sequence[list[int]], limit: int = 3) -> list[list[str]]:
    docs = [_display_words(t) for t in texts]
    df: Counter[str] = Counter()
    for d in docs:
        df.update({_label_key(w) for w, _ in d})
    n = len(docs)
    out = []
    for g in groups:
        counts: Counter[str] = Counter()
        shown: dict[str, Counter[str]] = defaultdict(Counter)
        for i in g:
            for w, raw in set(docs[i]):
                counts[_label_key(w)] += 1
                shown[_label_key(w)][raw] += 1
        ranked = sorted(counts, key=lambda s: (-counts[s] * math.log((1 + n) / (1 + df[s])), -counts[s], s))
        shared = [s for s in ranked if counts[s] > 1] or ranked
        out.append([min(shown[s].most_common(2), key=lambda wc: (-wc[1], len(wc[0])))[0] for s in shared[:limit]])
    return out


def analyse(
    texts: Sequence[str],
    *,
    embeddings: Sequence[Sequence[float]] | None = None,
    goal: str | None = None,
    goal_embedding: Sequence[float] | None = None,
    threshold: float | None = None,
    lexicon: bool = True,
) -> Analysis:
    """Cluster ``texts``, score their alignment, label the groups, and (with a goal) measure closeness to it."""
    if embeddings is not None and len(embeddings) == len(texts):
        vectors = dense_to_sparse(embeddings)
        method, cut = "embeddings", EMBEDDING_THRESHOLD if threshold is None else threshold
        goal_vec = dense_to_sparse([goal_embedding])[0] if goal_embedding is not None else None
    else:
        space = tfidf(texts, lexicon=lexicon)
        vectors = space.vectors
        method, cut = "local", LOCAL_THRESHOLD if threshold is None else threshold
        goal_vec = space.vector(goal) if goal else None
    found = cluster(vectors, cut)
    labels = _labels(texts, found)
    groups: list[Group] = []
    assignment: dict[int, int] = {}
    for gi, (members, words) in enumerate(zip(found, labels, strict=True)):
        centre = centroid([vectors[i] for i in members])
        examples = sorted(members, key=lambda i: -dot(vectors[i], centre))
        groups.append(Group(members, words, examples, centre))
        for i in members:
            assignment[i] = gi
    analysis = Analysis(alignment([len(g) for g in found], vectors), groups, vectors, method, assignment=assignment)
    if goal_vec:
        sims = [dot(v, goal_vec) for v in vectors]
        analysis.goal_closeness = round(100 * sum(sims) / len(sims)) if sims else 0
        analysis.goal_near = sum(1 for s in sims if s >= cut)
    return analysis
