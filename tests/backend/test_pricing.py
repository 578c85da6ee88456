from backend.runtime.context import price_of
from backend.settings import DEFAULT_PRICES


def test_dated_model_names_are_priced_like_their_family() -> None:
    assert price_of(DEFAULT_PRICES, "gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_of(DEFAULT_PRICES, "gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert price_of(DEFAULT_PRICES, "some-local-model") == (0.0, 0.0)
