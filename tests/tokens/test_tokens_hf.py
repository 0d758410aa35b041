import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from svgrl.errors import TokenError
from svgrl.svg.drawing import Drawing, Path
from svgrl.tokens.codec import decode, encode
from svgrl.tokens.grammar import grammar_for
from svgrl.tokens.hf import (
    LAYOUT_FILE,
    check_tokenizer,
    extend_tokenizer,
    load_smollm2_tokenizer,
    load_tokenizer,
    resize_model_embeddings,
    save_tokenizer,
)
from svgrl.tokens.layout import TokenLayout

D = Drawing(199, 199, (Path((("M", 3, 4), ("L", 50, 60), ("C", 1, 2, 3, 4, 5, 6), ("Z",)),
                            (255, 136, 0), "evenodd"),))


def tiny_tokenizer():
    vocab = {"[UNK]": 0, "draw": 1, "a": 2, "red": 3, "cat": 4, "<": 5, ">": 6}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]")


def _assert_reads_and_writes_svg(tok, layout):
    ids = encode(D, layout)
    text = "".join(tok.convert_ids_to_tokens(ids))
    assert tok.decode(ids).replace(" ", "") == text
    assert text.startswith("<svg><svg:fill#f80><svg:evenodd><svg:M><svg:p3,4>")
    # The tokenizer reads the SVG tokens back as the same ids, in a text prompt too.
    prompt = tok("draw a cat", add_special_tokens=False)["input_ids"]
    both = tok("draw a cat" + text, add_special_tokens=False)["input_ids"]
    assert both[: len(prompt)] == prompt and all(t < layout.base_vocab_size for t in prompt)
    assert both[len(prompt):] == ids
    assert decode(both[len(prompt):], layout, strict=True) == D
    grammar_for(layout).check(ids)


def test_tiny_tokenizer_extended(tmp_path):
    tok = tiny_tokenizer()
    base = len(tok)
    layout = extend_tokenizer(tok, grid=200)
    assert layout.base_vocab_size == base and len(tok) == layout.vocab_size
    _assert_reads_and_writes_svg(tok, layout)
    with pytest.raises(TokenError):
        extend_tokenizer(tok)  # twice
    save_tokenizer(tok, layout, tmp_path / "m")
    tok2, layout2 = load_tokenizer(tmp_path / "m")
    assert layout2 == layout and len(tok2) == len(tok)
    _assert_reads_and_writes_svg(tok2, layout2)


def test_mismatched_folder_is_refused(tmp_path):
    tok = tiny_tokenizer()
    layout = extend_tokenizer(tok, grid=16)
    save_tokenizer(tok, layout, tmp_path / "m")
    TokenLayout(grid=16, base_vocab_size=layout.base_vocab_size + 1).save(tmp_path / "m" /
                                                                         LAYOUT_FILE)
    with pytest.raises(TokenError):
        load_tokenizer(tmp_path / "m")
    with pytest.raises(TokenError):
        load_tokenizer(tmp_path / "nothing-here")
    with pytest.raises(TokenError):
        check_tokenizer(tiny_tokenizer(), layout)


def test_resize_model_embeddings():
    tok = tiny_tokenizer()
    layout = extend_tokenizer(tok, grid=32)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tiny_tokenizer()), hidden_size=16,
                                         intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    old = model.get_input_embeddings().weight.detach().clone()
    assert resize_model_embeddings(model, layout) == layout.vocab_size
    assert model.get_output_embeddings().weight.shape[0] == layout.vocab_size
    assert (model.get_input_embeddings().weight[: old.shape[0]] == old).all()
    assert resize_model_embeddings(model, layout, pad_to_multiple_of=64) % 64 == 0


@pytest.fixture(scope="module")
def smollm2():
    return load_smollm2_tokenizer()


def test_smollm2_tokenizer_extended(smollm2, tmp_path):
    base = len(smollm2)
    assert base == 49152
    layout = extend_tokenizer(smollm2)
    assert layout.base_vocab_size == base and layout.bos == base + 1
    _assert_reads_and_writes_svg(smollm2, layout)
    save_tokenizer(smollm2, layout, tmp_path / "m")
    tok2, layout2 = load_tokenizer(tmp_path / "m")
    assert layout2 == layout
    _assert_reads_and_writes_svg(tok2, layout2)
