"""svgrl.tokens: OmniSVG-style SVG tokens — one layout (`layout`), encode/decode (`codec`),
next-token masks (`grammar`), Hugging Face tokenizer extension (`hf`)."""

from svgrl.tokens.codec import (
    DecodeReport,
    decode,
    decode_report,
    drawing_through_tokens,
    encode,
)
from svgrl.tokens.grammar import Grammar, GrammarState, grammar_for
from svgrl.tokens.layout import TokenLayout

__all__ = [
    "DecodeReport", "Grammar", "GrammarState", "TokenLayout", "decode", "decode_report",
    "drawing_through_tokens", "encode", "grammar_for",
]
