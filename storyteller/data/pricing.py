"""The one price table: what OpenAI charges, so generation and training can show a cost.

As of 2025-06-01, from OpenAI's public pricing page (openai.com/api/pricing) and the fine-tuning
guide. Prices change: update AS_OF and the numbers together. All prices are US dollars per
1 million tokens. Local models and unknown servers cost nothing we can know (`None`).
"""

from __future__ import annotations

from pydantic import BaseModel

from storyteller.engines import ids

AS_OF = "2025-06-01"
# OpenAI's fine-tuning cut-off date, shown beside every OpenAI training estimate (update with AS_OF).
FINE_TUNING_CUTOFF = "2027-01-06"
SOURCE = "OpenAI pricing page (openai.com/api/pricing), standard tier, USD per 1M tokens"


class Price(BaseModel):
    input: float  # per 1M prompt tokens
    output: float  # per 1M completion tokens
    training: float | None = None  # per 1M trained tokens (tokens x epochs); None: not fine-tunable
    ft_input: float | None = None  # using the fine-tuned model
    ft_output: float | None = None


PRICES: dict[str, Price] = {
    "gpt-4.1": Price(input=2.00, output=8.00, training=25.00, ft_input=3.00, ft_output=12.00),
    "gpt-4.1-mini": Price(input=0.40, output=1.60, training=5.00, ft_input=0.80, ft_output=3.20),
    "gpt-4.1-nano": Price(input=0.10, output=0.40, training=1.50, ft_input=0.20, ft_output=0.80),
    "gpt-4o": Price(input=2.50, output=10.00, training=25.00, ft_input=3.75, ft_output=15.00),
    "gpt-4o-mini": Price(input=0.15, output=0.60, training=3.00, ft_input=0.30, ft_output=1.20),
    "gpt-3.5-turbo": Price(input=0.50, output=1.50, training=8.00, ft_input=3.00, ft_output=6.00),
    "davinci-002": Price(input=2.00, output=2.00, training=6.00, ft_input=12.00, ft_output=12.00),
    "babbage-002": Price(input=0.40, output=0.40, training=0.40, ft_input=1.60, ft_output=1.60),
}

# The dated snapshots OpenAI accepts as fine-tuning bases, mapped to their price row.
FINE_TUNABLE: dict[str, str] = {
    "gpt-4.1-2025-04-14": "gpt-4.1",
    "gpt-4.1-mini-2025-04-14": "gpt-4.1-mini",
    "gpt-4.1-nano-2025-04-14": "gpt-4.1-nano",
    "gpt-4o-2024-08-06": "gpt-4o",
    "gpt-4o-mini-2024-07-18": "gpt-4o-mini",
    "gpt-3.5-turbo-0125": "gpt-3.5-turbo",
    "davinci-002": "davinci-002",
    "babbage-002": "babbage-002",
}
LEGACY_BASES = ids.LEGACY_BASES  # prompt/completion format, not chat


def price_for(model_id: str) -> tuple[Price, bool] | None:
    """(price row, is_fine_tuned) for a model id, or None when we do not know its price.

    Understands dated snapshots ("gpt-4o-mini-2024-07-18") and fine-tuned ids
    ("ft:gpt-4o-mini-2024-07-18:org::abc"); local paths and other servers give None.
    """
    mid = ids.base_model(model_id)
    base = FINE_TUNABLE.get(mid, mid)
    for name in sorted(PRICES, key=len, reverse=True):  # longest first: gpt-4o-mini before gpt-4o
        if base == name or base.startswith(name + "-"):
            return PRICES[name], ids.fine_tune_base(model_id) is not None
    return None


def usage_cost(model_id: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Dollars for one model's usage, or None when the price is unknown (local models)."""
    found = price_for(model_id)
    if found is None:
        return None
    p, ft = found
    pin, pout = (p.ft_input, p.ft_output) if ft and p.ft_input is not None else (p.input, p.output)
    return (prompt_tokens * pin + completion_tokens * pout) / 1e6


def training_cost(base_model: str, billed_tokens: int) -> float | None:
    """Dollars to train `billed_tokens` (examples' tokens x epochs) on a fine-tunable base."""
    found = price_for(base_model)
    if found is None or found[0].training is None:
        return None
    return billed_tokens * found[0].training / 1e6
