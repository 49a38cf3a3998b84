"""Field-level scoring of extracted offers against gold labels (pure Python, no heavy imports).

Used by the development benchmark (``tests/bench/extract_dev.py``) and by the LoRA evaluation.
``score(pairs)`` takes ``(predicted, gold)`` pairs: ``predicted`` is an offer in the extraction
contract's shape (DESIGN.md), or ``None`` when the extraction failed or was invalid; ``gold`` is
one label line of a ``gold.jsonl``.

Rules
-----
Fields. Per item: product_name, sku, brand, quantity, unit, unit_price, currency, total_price,
moq, dimensions, weight, lead_time_days. Per offer: supplier.name, supplier.email, valid_until,
incoterms, payment_terms (the contract's, as ``appliance.extract.fields`` lists them). ``language``
is not scored; other keys (``notes``, ``message_id``) are ignored. Configured extra fields
(``extra: {name: value}`` on an item or the offer) are scored as ``extra.<name>`` where the gold
label holds them (a label holds only stated extra values).

Labelled fields. A field is labelled when its key is present in the gold dict (for
``supplier.*``: the ``supplier`` key is present and is null or holds the sub-key). Gold
``product_name: null`` means "not labelled" (the wdc set does not label names). Unlabelled fields
are skipped entirely. Every other gold null means "the mail does not state it".

Lists. A gold value may be a list (wdc ``brand`` and ``sku``): any listed value is right. An empty
list, an empty string and a dimensions dict without any axis count as null, in gold and
prediction alike.

Counting, per labelled field:
- gold non-null, prediction equal → TP;
- gold non-null, prediction null → FN;
- gold non-null, prediction a different non-null value → FP and FN;
- gold null, prediction non-null → FP;
- both null → nothing.
Support is TP + FN (the gold non-null values). Precision, recall and F1 are per field and overall
(micro: summed over all fields); a ratio with a zero denominator is ``None``.

Comparison.
- Numbers are equal within 0.5 % relative or 1e-6 absolute difference (numeric strings in a
  prediction are parsed).
- Strings are compared after Unicode NFKC, casefold, collapsing whitespace and stripping
  surrounding punctuation; ``sku`` also ignoring spaces and hyphens; ``currency`` must be the exact
  ISO code (surrounding whitespace aside).
- ``product_name`` matches by word tokens of the normalised strings: Jaccard ≥ 0.5, or one token
  set contained in the other with the smaller one holding ≥ 2 tokens.
- ``dimensions`` are converted to mm (mm, cm, m, in, ft; a dict without unit is taken as mm) and
  compared per axis: every gold non-null axis (length, width, height) must be matched by the same
  axis of the prediction; extra predicted axes are not penalised. An unknown unit never matches.
- ``weight`` is converted to grams (g, kg, t, lb, oz) and compared as a number.

Items. Predicted and gold items are matched BEFORE fields are compared, greedily by descending
similarity (sku equal 3, product_name token Jaccard × 2, unit_price equal 1, brand equal 1; ties
go to the pair closest in list position, so leftover items pair up in order). Matched pairs are
scored field by field with the gold item's labelled fields. An unmatched predicted item adds an FP
for each non-null field labelled in that mail's gold schema (the first gold item's labelled
fields, or all item fields when the label has no items). An unmatched gold item adds an FN for
each labelled non-null field.

Failures. A failed prediction (``None``) counts every gold non-null labelled field as FN.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The scored fields of the contract in its order: the lists of ``appliance.extract.fields``
# (SCORED_ITEM_FIELDS, SCORED_OFFER_FIELDS, NUMERIC_ITEM_FIELDS), spelled out because this
# module imports nothing of the appliance; a unit test holds them equal.
ITEM_FIELDS: tuple[str, ...] = (
    "product_name", "sku", "brand", "quantity", "unit", "unit_price", "currency",
    "total_price", "moq", "dimensions", "weight", "lead_time_days",
)  # fmt: skip
OFFER_FIELDS: tuple[str, ...] = (
    "supplier.name", "supplier.email", "valid_until", "incoterms", "payment_terms",
)  # fmt: skip
NUMERIC_FIELDS = frozenset({"quantity", "unit_price", "total_price", "moq", "lead_time_days"})
# Configured extra fields: ``extra: {name: value}`` on an item or the offer, scored by key.
EXTRA = "extra"
EXTRA_PREFIX = "extra."
# Fields whose gold null means "not labelled" rather than "not stated".
NULL_MEANS_UNLABELLED = frozenset({"product_name"})

TO_MM: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4, "ft": 304.8}
TO_G: dict[str, float] = {
    "g": 1.0, "kg": 1000.0, "t": 1_000_000.0, "lb": 453.59237, "oz": 28.349523125,
}  # fmt: skip
_UNIT_ALIASES: dict[str, str] = {
    "millimeter": "mm", "millimeters": "mm", "millimetre": "mm", "millimetres": "mm",
    "centimeter": "cm", "centimeters": "cm", "centimetre": "cm", "centimetres": "cm",
    "meter": "m", "meters": "m", "metre": "m", "metres": "m", "inch": "in", "inches": "in",
    '"': "in", "foot": "ft", "feet": "ft", "'": "ft", "gram": "g", "grams": "g", "gr": "g",
    "kgs": "kg", "kilogram": "kg", "kilograms": "kg", "tonne": "t", "tonnes": "t", "ton": "t",
    "lbs": "lb", "pound": "lb", "pounds": "lb", "ounce": "oz", "ounces": "oz",
}  # fmt: skip
AXES: tuple[str, ...] = ("length", "width", "height")

REL_TOL = 0.005
ABS_TOL = 1e-6
_SKU_DROP = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_WORD = re.compile(r"\w+")


# ---------------------------------------------------------------- normalisation and comparison


def normalize_text(value: Any) -> str:
    """NFKC, casefold, collapse whitespace, strip surrounding punctuation."""
    s = unicodedata.normalize("NFKC", str(value)).casefold()
    s = " ".join(s.split())
    start, end = 0, len(s)
    while start < end and _is_edge_junk(s[start]):
        start += 1
    while end > start and _is_edge_junk(s[end - 1]):
        end -= 1
    return s[start:end]


def _is_edge_junk(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch).startswith("P")


def normalize_sku(value: Any) -> str:
    """``normalize_text`` without spaces and hyphens (``ab-12 3`` == ``AB123``)."""
    return _SKU_DROP.sub("", normalize_text(value))


def name_tokens(value: Any) -> set[str]:
    """The set of word tokens of a normalised product name."""
    return set(_WORD.findall(normalize_text(value)))


def token_jaccard(a: Any, b: Any) -> float:
    """Jaccard similarity of the word-token sets of two names (0 when either is empty)."""
    ta, tb = name_tokens(a), name_tokens(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def names_match(pred: Any, gold: Any) -> bool:
    """Jaccard ≥ 0.5, or one token set inside the other with the smaller one of ≥ 2 tokens."""
    tp, tg = name_tokens(pred), name_tokens(gold)
    if not tp or not tg:
        return False
    if len(tp & tg) / len(tp | tg) >= 0.5:
        return True
    small, big = (tp, tg) if len(tp) <= len(tg) else (tg, tp)
    return len(small) >= 2 and small <= big


def to_number(value: Any) -> float | None:
    """A finite float from a number or a numeric string; ``None`` otherwise (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value.strip().replace(" ", ""))
        except ValueError:
            return None
    else:
        return None
    return x if math.isfinite(x) else None


def numbers_equal(a: Any, b: Any) -> bool:
    """Equal within ``REL_TOL`` relative or ``ABS_TOL`` absolute difference."""
    x, y = to_number(a), to_number(b)
    if x is None or y is None:
        return False
    diff = abs(x - y)
    return diff <= ABS_TOL or diff <= REL_TOL * max(abs(x), abs(y))


def _unit(value: Any, table: Mapping[str, float]) -> float | None:
    if value is None:
        return None
    u = str(value).strip().casefold().rstrip(".")
    u = _UNIT_ALIASES.get(u, u)
    return table.get(u)


def dimensions_mm(value: Any) -> dict[str, float] | None:
    """The non-null axes of a dimensions dict in mm; ``None`` when null, axis-less or unknown unit.

    A dict without ``unit`` is taken as mm.
    """
    if not isinstance(value, Mapping):
        return None
    factor = _unit(value.get("unit") or "mm", TO_MM)
    if factor is None:
        return None
    out = {}
    for axis in AXES:
        x = to_number(value.get(axis))
        if x is not None:
            out[axis] = x * factor
    return out or None


def weight_g(value: Any) -> float | None:
    """A weight dict ``{"value", "unit"}`` in grams; ``None`` when null or the unit is unknown."""
    if not isinstance(value, Mapping):
        return None
    x = to_number(value.get("value"))
    factor = _unit(value.get("unit"), TO_G)
    if x is None or factor is None:
        return None
    return x * factor


def is_null(field_name: str, value: Any) -> bool:
    """Whether a (single, non-list) value counts as null for ``field_name``."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(is_null(field_name, v) for v in value)
    if field_name == "dimensions":
        return not (
            isinstance(value, Mapping) and any(to_number(value.get(a)) is not None for a in AXES)
        )
    if field_name == "weight":
        return not (isinstance(value, Mapping) and to_number(value.get("value")) is not None)
    return False


def _alternatives(field_name: str, gold: Any) -> list[Any]:
    """The non-null accepted values of a gold entry (a list means "any of these")."""
    values = list(gold) if isinstance(gold, list | tuple) else [gold]
    return [v for v in values if not is_null(field_name, v)]


def values_equal(field_name: str, pred: Any, gold: Any) -> bool:
    """Compare one predicted value with one (non-list) gold value under ``field_name``'s rule."""
    if field_name == "product_name":
        return names_match(pred, gold)
    if field_name == "sku":
        return normalize_sku(pred) == normalize_sku(gold)
    if field_name == "currency":
        return isinstance(pred, str) and pred.strip() == str(gold).strip()
    if field_name == "dimensions":
        p, g = dimensions_mm(pred), dimensions_mm(gold)
        if p is None or g is None:
            return False
        return all(axis in p and numbers_equal(p[axis], x) for axis, x in g.items())
    if field_name == "weight":
        p_g, g_g = weight_g(pred), weight_g(gold)
        return p_g is not None and g_g is not None and numbers_equal(p_g, g_g)
    if field_name in NUMERIC_FIELDS or (to_number(gold) is not None and not isinstance(gold, str)):
        return numbers_equal(pred, gold)
    if isinstance(pred, Mapping | list) or isinstance(gold, Mapping):
        return False
    return normalize_text(pred) == normalize_text(gold)


# ---------------------------------------------------------------- counts and report


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


@dataclass
class Counts:
    """True positives, false positives and false negatives of one field (or of all)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    # Of the false positives: values given for a field whose label is null (the mail does not
    # state it), the errors a reader of the offer cannot spot from the mail's own figures.
    unstated: int = 0

    @property
    def support(self) -> int:
        """Number of gold non-null values (TP + FN)."""
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP), ``None`` when nothing was predicted."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """TP / (TP + FN), ``None`` when there was nothing to find."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        """2TP / (2TP + FP + FN), ``None`` when all three are zero."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def add(self, other: Counts) -> None:
        """Add another field's counts into this one."""
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.unstated += other.unstated

    def as_dict(self) -> dict[str, Any]:
        """Counts plus the derived precision, recall, F1 and support."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "unstated": self.unstated,
            "support": self.support,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@dataclass
class Report:
    """Per-field counts over many offers; ``counts`` holds every field labelled at least once."""

    counts: dict[str, Counts] = field(default_factory=dict)
    n: int = 0
    n_valid: int = 0

    @property
    def valid_share(self) -> float | None:
        """Share of predictions that were not ``None`` (``None`` for an empty report)."""
        return _ratio(self.n_valid, self.n)

    def fields(self) -> list[str]:
        """The scored fields, item fields first, in contract order (then any others, sorted)."""
        order = ITEM_FIELDS + OFFER_FIELDS
        known = [f for f in order if f in self.counts]
        return known + sorted(f for f in self.counts if f not in order)

    def field_counts(self, name: str) -> Counts:
        """Counts of one field (zeros when it was never labelled)."""
        return self.counts.get(name, Counts())

    @property
    def overall(self) -> Counts:
        """Micro-averaged counts: the sum over all fields."""
        total = Counts()
        for c in self.counts.values():
            total.add(c)
        return total

    def precision(self, name: str | None = None) -> float | None:
        """Precision of one field, or overall (micro) when ``name`` is None."""
        return (self.overall if name is None else self.field_counts(name)).precision

    def recall(self, name: str | None = None) -> float | None:
        """Recall of one field, or overall (micro) when ``name`` is None."""
        return (self.overall if name is None else self.field_counts(name)).recall

    def f1(self, name: str | None = None) -> float | None:
        """F1 of one field, or overall (micro) when ``name`` is None."""
        return (self.overall if name is None else self.field_counts(name)).f1

    def __add__(self, other: Report) -> Report:
        out = Report(n=self.n + other.n, n_valid=self.n_valid + other.n_valid)
        for src in (self, other):
            for name, c in src.counts.items():
                out.counts.setdefault(name, Counts()).add(c)
        return out

    def table(self) -> str:
        """An aligned text table: field, P, R, F1, support, TP, FP, FN, unstated (FPs for a field
        the label says the mail does not state), then the micro total."""
        header = ("field", "P", "R", "F1", "support", "TP", "FP", "FN", "unstated")
        rows = []
        for name in self.fields():
            c = self.counts[name]
            rows.append((name, _fmt(c.precision), _fmt(c.recall), _fmt(c.f1),
                         str(c.support), str(c.tp), str(c.fp), str(c.fn),
                         str(c.unstated)))  # fmt: skip
        o = self.overall
        total = ("overall (micro)", _fmt(o.precision), _fmt(o.recall), _fmt(o.f1),
                 str(o.support), str(o.tp), str(o.fp), str(o.fn), str(o.unstated))  # fmt: skip
        widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(len(header))]

        def line(r: tuple[str, ...]) -> str:
            cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(r))]
            return "  ".join(cells).rstrip()

        rule = "-" * len(line(header))
        share = _fmt(self.valid_share)
        out = [line(header), rule, *map(line, rows), rule, line(total)]
        out.append(f"offers: {self.n}  valid predictions: {self.n_valid}  valid share: {share}")
        return "\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``n``, ``n_valid``, ``valid_share``, ``fields`` and ``overall``."""
        return {
            "n": self.n,
            "n_valid": self.n_valid,
            "valid_share": self.valid_share,
            "fields": {name: self.counts[name].as_dict() for name in self.fields()},
            "overall": self.overall.as_dict(),
        }


# ---------------------------------------------------------------- scoring


def _score_value(c: Counts, field_name: str, pred: Any, gold: Any) -> None:
    alts = _alternatives(field_name, gold)
    p_null = is_null(field_name, pred)
    if alts:
        if p_null:
            c.fn += 1
        elif any(values_equal(field_name, pred, g) for g in alts):
            c.tp += 1
        else:
            c.fp += 1
            c.fn += 1
    elif not p_null:
        c.fp += 1
        c.unstated += 1


def _item_labelled(gold_item: Mapping[str, Any]) -> list[str]:
    return [
        f
        for f in ITEM_FIELDS
        if f in gold_item and not (f in NULL_MEANS_UNLABELLED and gold_item[f] is None)
    ] + [k for k in gold_item if k.startswith(EXTRA_PREFIX)]


def _flat(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item with its extra values as ``extra.<name>`` keys."""
    out = {k: v for k, v in item.items() if k != EXTRA}
    extra = item.get(EXTRA)
    if isinstance(extra, Mapping):
        out.update((EXTRA_PREFIX + str(k), v) for k, v in extra.items())
    return out


def _offer_value(offer: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """``(labelled, value)`` of a possibly dotted offer field."""
    if "." not in path:
        return path in offer, offer.get(path)
    head, tail = path.split(".", 1)
    if head not in offer:
        return False, None
    sub = offer[head]
    if sub is None:
        return True, None
    if not isinstance(sub, Mapping):
        return False, None
    return tail in sub, sub.get(tail)


def item_similarity(pred: Mapping[str, Any], gold: Mapping[str, Any]) -> float:
    """How alike a predicted and a gold item are, for matching (0 = nothing in common)."""
    sim = 0.0
    for name, weight in (("sku", 3.0), ("unit_price", 1.0), ("brand", 1.0)):
        p = pred.get(name)
        if not is_null(name, p) and any(
            values_equal(name, p, g) for g in _alternatives(name, gold.get(name))
        ):
            sim += weight
    p_name, g_name = pred.get("product_name"), gold.get("product_name")
    if not is_null("product_name", p_name) and not is_null("product_name", g_name):
        sim += 2.0 * token_jaccard(p_name, g_name)
    return sim


def match_items(
    pred_items: Sequence[Mapping[str, Any]], gold_items: Sequence[Mapping[str, Any]]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Greedy maximum-similarity matching: ``(pairs, unmatched_pred, unmatched_gold)`` indexes.

    Pairs are taken in descending similarity; ties go to the pair closest in list position.
    """
    candidates = sorted(
        (-item_similarity(p, g), abs(i - j), i, j)
        for i, p in enumerate(pred_items)
        for j, g in enumerate(gold_items)
    )
    used_p: set[int] = set()
    used_g: set[int] = set()
    pairs = []
    for _, _, i, j in candidates:
        if i not in used_p and j not in used_g:
            pairs.append((i, j))
            used_p.add(i)
            used_g.add(j)
    pairs.sort()
    unmatched_p = [i for i in range(len(pred_items)) if i not in used_p]
    unmatched_g = [j for j in range(len(gold_items)) if j not in used_g]
    return pairs, unmatched_p, unmatched_g


def _items(offer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = offer.get("items")
    if not isinstance(items, list):
        return []
    return [_flat(it) if isinstance(it, Mapping) else {} for it in items]


def score_offer(report: Report, pred: Mapping[str, Any] | None, gold: Mapping[str, Any]) -> None:
    """Add one ``(prediction, label)`` pair to ``report`` (see the module rules)."""
    report.n += 1
    if pred is not None:
        report.n_valid += 1
    offer: Mapping[str, Any] = pred if isinstance(pred, Mapping) else {}

    gold_extra = gold.get(EXTRA) if isinstance(gold.get(EXTRA), Mapping) else {}
    for path in (*OFFER_FIELDS, *(EXTRA_PREFIX + str(k) for k in gold_extra)):
        labelled, g = _offer_value(gold, path)
        if labelled:
            _, p = _offer_value(offer, path)
            _score_value(report.counts.setdefault(path, Counts()), path, p, g)

    pred_items, gold_items = _items(offer), _items(gold)
    pairs, lone_pred, lone_gold = match_items(pred_items, gold_items)
    for i, j in pairs:
        g_item = gold_items[j]
        for name in _item_labelled(g_item):
            c = report.counts.setdefault(name, Counts())
            _score_value(c, name, pred_items[i].get(name), g_item[name])
    schema = _item_labelled(gold_items[0]) if gold_items else list(ITEM_FIELDS)
    for i in lone_pred:
        for name in schema:
            c = report.counts.setdefault(name, Counts())
            if not is_null(name, pred_items[i].get(name)):
                c.fp += 1
                c.unstated += 1
    for j in lone_gold:
        g_item = gold_items[j]
        for name in _item_labelled(g_item):
            c = report.counts.setdefault(name, Counts())
            if _alternatives(name, g_item[name]):
                c.fn += 1


def score(pairs: Iterable[tuple[dict[str, Any] | None, dict[str, Any]]]) -> Report:
    """Score ``(predicted offer or None, gold label)`` pairs field by field into a ``Report``."""
    report = Report()
    for pred, gold in pairs:
        score_offer(report, pred, gold)
    return report
