"""The `tiny` backbone: a Llama- or Qwen2-architecture causal LM built from a config (random
weights, trained from scratch) and a byte-level tokenizer built in code — no hub, no files.

The tokenizer maps each UTF-8 byte to one token (ids 0–255, GPT-2's byte↔unicode alphabet, a
BPE with no merges) and adds ChatML specials, so prompts go through the same
``apply_chat_template`` path as SmolLM2-Instruct.
"""

from __future__ import annotations

from typing import Any

PAD, EOT, IM_START, IM_END = "<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIALS = [PAD, EOT, IM_START, IM_END]  # ids 256..259
BYTE_VOCAB_SIZE = 256 + len(SPECIALS)

# ChatML as SmolLM2-Instruct writes it, without its default system prompt.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable-character map (what ByteLevel pre-tokenizes to)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    keep += list(range(ord("®"), ord("ÿ") + 1))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def byte_tokenizer() -> Any:
    """A `PreTrainedTokenizerFast` with one token per byte plus ChatML specials (260 ids)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: b for b, ch in _bytes_to_unicode().items()}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, eos_token=IM_END, bos_token=IM_START,
        unk_token=None, model_max_length=1 << 20,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny(
    *,
    arch: str = "llama",
    n_layers: int = 2,
    d_model: int = 128,
    n_heads: int = 4,
    n_kv_heads: int | None = None,
    vocab_size: int = BYTE_VOCAB_SIZE,
    max_positions: int = 2048,
    seed: int = 0,
    dtype: Any = None,
) -> tuple[Any, Any]:
    """(model, tokenizer) for the tiny backbone; arguments are checked by `BackboneConfig`.

    The MLP width is 8/3·d_model rounded up to 32 (Llama's SwiGLU sizing); embeddings are
    tied, as in SmolLM2, so vocabulary extension adds one matrix, not two. `dtype`: a torch
    dtype, float32 when None.
    """
    # torch and transformers load here, not at import: `BackboneConfig` (the CLI's --help)
    # reads this module's vocabulary size.
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    tokenizer = byte_tokenizer()
    d_ff = -(-(8 * d_model // 3) // 32) * 32
    common = dict(
        vocab_size=vocab_size, hidden_size=d_model, intermediate_size=d_ff,
        num_hidden_layers=n_layers, num_attention_heads=n_heads,
        num_key_value_heads=n_kv_heads or n_heads, max_position_embeddings=max_positions,
        rms_norm_eps=1e-5, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = (LlamaConfig if arch == "llama" else Qwen2Config)(**common)
    # A private RNG stream: building a model must not shift the caller's global seed.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype or torch.float32)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer
