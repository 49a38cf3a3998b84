"""The words of the answer form: field labels (what we write) and the vocabulary we read back.

``compose`` writes the labels into the clarifying e-mails; ``answers`` recognises the same
labels (both languages, whatever the language of the e-mail) in the supplier's reply, plus the
currency, duration and month words a supplier types after them.
"""

from __future__ import annotations

import re

from appliance.extract.fields import OFFER_VALUES, form_labels

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ru")

# Offer-level fields (everything else is asked per item).
OFFER_FIELDS: frozenset[str] = frozenset(OFFER_VALUES)

# Labels of a choice of fields (``"quantity|moq"``: either will do) in the answer form.
_CHOICE_LABELS: dict[str, dict[str, str]] = {
    "en": {"quantity|moq": "Quantity or minimum order"},
    "ru": {"quantity|moq": "Количество или минимальная партия"},
}

# Language -> field key -> label used in the answer form (the fields' own labels live with the
# contract's field list, ``extract.fields``). A parenthesised tail is a hint: the parser also
# accepts the label without it.
FIELD_LABELS: dict[str, dict[str, str]] = {
    lang: {**form_labels(lang), **_CHOICE_LABELS[lang]} for lang in SUPPORTED_LANGUAGES
}

# A few words suppliers write instead of our labels (read only, never written).
EXTRA_LABELS: dict[str, str] = {
    "price": "unit_price", "цена": "unit_price", "moq": "moq", "min order": "moq",
    "qty": "quantity", "sku": "sku", "delivery time": "lead_time_days", "incoterms": "incoterms",
}  # fmt: skip

# Canned sentences of the e-mails; {token} is the reference like [Q-7K3M9P].
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "greet_name": "Dear {name},",
        "greet": "Hello,",
        "thanks": "Thank you for your offer. To complete it, we need a few more details.",
        "thanks_again": "Thank you for your reply. A few details are still missing.",
        "reminder": (
            "This is a friendly reminder of our earlier request: we still need a few details "
            "to complete your offer."
        ),
        "instruction": (
            "Please reply to this e-mail and fill in the lines below, writing each value after "
            "the colon. Please keep the reference {token} in the subject."
        ),
        "offer_block": "Offer:",
        "no_name": "(no name)",
        "ack": "Thank you for your offer. It is complete and has been recorded:",
        "ack_more": "and {n} more",
        "ack_end": "No further information is needed.",
        "regards": "Kind regards,",
        "subject": "Your offer",
    },
    "ru": {
        "greet_name": "Здравствуйте, {name}!",
        "greet": "Здравствуйте!",
        "thanks": (
            "Благодарим вас за предложение. Чтобы его обработать, нам не хватает нескольких "
            "сведений."
        ),
        "thanks_again": "Спасибо за ответ. Некоторых сведений всё ещё не хватает.",
        "reminder": (
            "Напоминаем о нашем предыдущем запросе: нам всё ещё не хватает нескольких сведений "
            "по вашему предложению."
        ),
        "instruction": (
            "Пожалуйста, ответьте на это письмо и заполните строки ниже, указав значения после "
            "двоеточия. Пожалуйста, сохраните ссылку {token} в теме письма."
        ),
        "offer_block": "Предложение:",
        "no_name": "(без названия)",
        "ack": "Благодарим вас за предложение. Оно получено полностью и зарегистрировано:",
        "ack_more": "и ещё {n}",
        "ack_end": "Больше ничего не требуется.",
        "regards": "С уважением,",
        "subject": "Ваше предложение",
    },
}

# Currency words beyond contract.CURRENCY_ALIASES (whole words, lower case, trailing dot removed).
CURRENCY_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"руб(?:л(?:ь|я|ей|и|ям|ях|ями))?|р|rub(?:les?)?|roubles?"), "RUB"),
    (re.compile(r"доллар(?:а|ов|ы|ам|ах)?|долл|dollars?|us\$"), "USD"),
    (re.compile(r"евро|euros?"), "EUR"),
    (re.compile(r"юан(?:ь|я|ей|и)|yuan"), "CNY"),
    (re.compile(r"гривн(?:а|ы|ей)?"), "UAH"),
    (re.compile(r"тенге"), "KZT"),
]

# Duration words (whole words, lower case, trailing dot removed) -> days per unit.
DURATION_UNITS: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"d|days?|дн|дня|дней|день|сут|суток|сутки"), 1),
    (re.compile(r"w|wk|wks|weeks?|нед|неделя|недели|недель|неделю"), 7),
    (re.compile(r"mo|mos|months?|мес|месяц|месяца|месяцев"), 30),
]

# Month-name prefixes -> month number (English and Russian, any case ending).
MONTHS: tuple[tuple[str, int], ...] = (
    ("jan", 1), ("feb", 2), ("mar", 3), ("apr", 4), ("may", 5), ("jun", 6), ("jul", 7),
    ("aug", 8), ("sep", 9), ("oct", 10), ("nov", 11), ("dec", 12),
    ("янв", 1), ("фев", 2), ("мар", 3), ("апр", 4), ("мая", 5), ("май", 5), ("июн", 6),
    ("июл", 7), ("авг", 8), ("сен", 9), ("окт", 10), ("ноя", 11), ("дек", 12),
)  # fmt: skip

# Values that mean "no answer".
PLACEHOLDERS: frozenset[str] = frozenset(
    {"n/a", "na", "нет", "none", "tbd", "unknown", "н/д", "нд", "неизвестно", "no"}
)


def language_of(language: str | None) -> str:
    """The supported language for a tag (``ru-RU`` -> ``ru``); anything else is ``en``."""
    base = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in SUPPORTED_LANGUAGES else "en"
