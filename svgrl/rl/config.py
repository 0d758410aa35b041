"""`GRPOConfig`: every knob of `svgrl train grpo`, defaults from Magistral (arXiv 2506.10910)
unless a comment says otherwise; one dataclass, validated across fields in `__post_init__`.

Sizes. One *step* = one rollout batch: ``prompts_per_step`` prompts × ``group_size``
completions, sampled by the current (old) policy. After group filtering, the kept sequences
are split into ``minibatches`` optimiser steps (Magistral §2.1: several minibatch updates per
batch), each split into microbatches of at most ``token_budget`` padded tokens (greedy
collation, Magistral §3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from svgrl.errors import ConfigError
from svgrl.model.config import BackboneConfig
from svgrl.rewards.magistral import MagistralRewardConfig
from svgrl.rewards.svg_config import SvgRewardConfig

# Magistral §2.2 / Appendix: the system prompt that lets the model think in any style.
MAGISTRAL_SYSTEM_PROMPT = (
    "A user will ask you to solve a task. You should first draft your thinking process "
    "(inner monologue) until you have derived the final answer. Afterwards, write a "
    "self-contained summary of your thoughts (i.e. your summary should be succinct but contain "
    "all the critical steps you needed to reach the conclusion). You should use Markdown to "
    "format your response. Write both your thoughts and summary in the same language as the "
    "task posed by the user. NEVER use \\boxed{} in your response.\n\n"
    "Your thinking process must follow the template below:\n<think>\nYour thoughts or/and "
    "draft, like working through an exercise on scratch paper. Be as casual and as long as "
    "you want until you are confident to generate a correct answer.\n</think>\n\n"
    "Here, provide a concise summary that reflects your reasoning and presents a clear final "
    "answer to the user. Don't mention that this is a summary.\n\nProblem:\n\n"
)
# Magistral's own prompt forbids \boxed in the *summary* wording of the paper's first
# version; for math we state where the answer goes, which the format reward checks.
MATH_ANSWER_HINT = "Put the final answer in \\boxed{}."

# Named system prompts (``--system-prompt NAME``); any other value is used as literal text.
SYSTEM_PROMPTS: dict[str, str] = {
    "none": "",
    "magistral": MAGISTRAL_SYSTEM_PROMPT.replace(
        "NEVER use \\boxed{} in your response.", MATH_ANSWER_HINT),
    "short": "Solve the problem with one short equation, then give the result in \\boxed{}.",
    # One worked example: small instruct models (SmolLM2-135M) copy its shape.
    "example": ("Answer like the example: one equation, result in \\boxed{}.\n\nExample:\n"
                "Q: Ann has 2 cups and gets 3 more. How many cups does Ann have now?\n"
                "A: 2 + 3 = \\boxed{5}"),
    "code": "Write a Python solution in one ```python fenced block.",
    "svg": "",
}

TASKS = ("math", "code", "svg-image", "svg-text")


def parse_stages(stages: tuple[str, ...]) -> list[tuple[int, int, int]]:
    """``"STEP:LMAX:PROMPTS"`` strings → sorted ``(start_step, l_max, prompts_per_step)``."""
    out = []
    for s in stages:
        try:
            a, b, c = (int(x) for x in s.split(":"))
        except ValueError:
            raise ConfigError(
                f"length stage {s!r} must be STEP:LMAX:PROMPTS, e.g. 0:64:8 100:96:4"
            ) from None
        if a < 0 or b < 1 or c < 1:
            raise ConfigError(f"length stage {s!r}: need STEP ≥ 0, LMAX ≥ 1, PROMPTS ≥ 1")
        out.append((a, b, c))
    out.sort()
    if out and out[0][0] != 0:
        raise ConfigError(f"length stages {stages} must start at step 0 (e.g. 0:64:8)")
    return out


@dataclass
class GRPOConfig:
    # --- what to train --------------------------------------------------------------------
    task: Literal["math", "code", "svg-image", "svg-text"] = field(default="math", metadata={
        "help": "task: generated arithmetic word problems, HumanEval, or an SVG dataset"})
    model: BackboneConfig = field(default_factory=lambda: BackboneConfig(
        backbone="smollm2-135m"), metadata={"help": "the backbone (its own config)"})
    init: str = field(default="", metadata={
        "help": "start from this run's latest weights (an `svgrl train sft` or `svgrl train "
                "grpo` run) or a model folder; overrides --backbone"})
    out: str = field(default="runs/grpo", metadata={"help": "run folder to write"})
    resume: bool = field(default=False, metadata={
        "help": "continue the run in --out from its last checkpoint (exact: RNG, optimiser, "
                "data order)"})
    data: str = field(default="", metadata={
        "help": "svg tasks: a `svgrl data build` folder"})
    image_size: int = field(default=64, metadata={
        "help": "svg-image: with a fresh text --backbone (no --init), the vision prefix image "
                "side (px); with a Qwen2.5-VL policy, the render size of image prompts (its "
                "processor resizes further; use its SFT run's --image-size)"})
    patch_size: int = field(default=8, metadata={
        "help": "svg-image with a fresh --backbone: vision prefix patch side (px)"})
    # --- data -----------------------------------------------------------------------------
    train_size: int = field(default=512, metadata={
        "help": "math: generated training problems (before the difficulty filter)"})
    eval_size: int = field(default=64, metadata={"help": "held-out problems for evaluation"})
    max_operand: int = field(default=9, metadata={
        "help": "math: largest operand of the generated problems (difficulty)"})
    one_shot: bool = field(default=False, metadata={
        "help": "1-shot RLVR (arXiv 2504.20571): one training example repeated to the batch"})
    one_shot_index: int = field(default=0, metadata={"help": "which example --one-shot uses"})
    difficulty_filter: bool = field(default=False, metadata={
        "help": "before training, sample --filter-k answers per problem with the initial "
                "model; drop always-solved, never-solved and majority-wrong problems"})
    filter_k: int = field(default=4, metadata={"help": "samples per problem for the filter"})
    filter_pool: int = field(default=64, metadata={
        "help": "problems the difficulty filter examines (0 = all)"})
    # --- prompt template ------------------------------------------------------------------
    thinking: bool = field(default=False, metadata={
        "help": "think template: completions must start with <think>…</think> (Magistral "
                "§2.2); the format reward follows this switch"})
    system_prompt: str = field(default="short", metadata={
        "help": f"one of {sorted(SYSTEM_PROMPTS)} ('magistral' = the paper's 'be as casual "
                "and as long as you want' prompt) or literal text"})
    response_prefix: str = field(default="", metadata={
        "help": "text prefilled at the start of the assistant turn; it counts as part of "
                "the completion for the reward (e.g. '<think>\\n')"})
    chat_template: bool = field(default=True, metadata={
        "help": "wrap prompts with the tokenizer's chat template when it has one"})
    # --- sampling (generator role) --------------------------------------------------------
    steps: int = field(default=100, metadata={"help": "rollout batches to train on"})
    prompts_per_step: int = field(default=8, metadata={"help": "prompts per rollout batch"})
    group_size: int = field(default=16, metadata={
        "help": "completions per prompt G (Magistral §4: 16)"})
    max_completion_length: int = field(default=128, metadata={
        "help": "completion token limit l_max (Magistral grows it 16k→24k→32k; see "
                "--length-stages)"})
    length_stages: tuple[str, ...] = field(default=(), metadata={
        "help": "length curriculum STEP:LMAX:PROMPTS … (stages raise l_max and lower the "
                "batch, as Magistral Medium)"})
    max_prompt_length: int = field(default=512, metadata={"help": "prompts longer are cut "
                                                                  "from the left"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling (1 = off)"})
    sampler: Literal["svgrl", "hf"] = field(default="svgrl", metadata={
        "help": "'svgrl': lean KV-cached loop (shared prompt prefill, finished rows "
                "dropped); 'hf': transformers generate()"})
    generation_batch: int = field(default=64, metadata={
        "help": "sequences sampled together by one generate call"})
    # --- objective (Magistral §2.1; ablations opt-in) -------------------------------------
    epsilon_low: float = field(default=0.2, metadata={"help": "ε_low of the clip"})
    epsilon_high: float = field(default=0.28, metadata={"help": "ε_high (clip-higher, DAPO)"})
    advantage: Literal["magistral", "grpo"] = field(default="magistral", metadata={
        "help": "'magistral': r − mean(group), standardised over the minibatch; 'grpo': "
                "divided by the group std (DeepSeekMath), no minibatch standardisation"})
    normaliser: Literal["tokens", "constant"] = field(default="tokens", metadata={
        "help": "'tokens': ÷ completion tokens of the minibatch (Magistral); 'constant': "
                "÷ sequences × l_max (Dr. GRPO)"})
    beta: float = field(default=0.0, metadata={"help": "KL penalty to the initial model "
                                                       "(Magistral: 0)"})
    entropy_coef: float = field(default=0.0, metadata={
        "help": "entropy bonus (1-shot RLVR uses 0.001)"})
    keep_equal_groups: bool = field(default=False, metadata={
        "help": "ablation: keep groups whose rewards are all equal (Magistral drops them)"})
    # --- optimisation (trainer role) ------------------------------------------------------
    minibatches: int = field(default=2, metadata={
        "help": "optimiser steps per rollout batch (kept sequences split evenly)"})
    token_budget: int = field(default=4096, metadata={
        "help": "padded tokens per microbatch (greedy collation)"})
    learning_rate: float = field(default=0.0, metadata={
        "help": "Adam learning rate; 0 = the task's default: 1e-6 for math/code (Magistral "
                "scale, pretrained LMs), 1e-4 for svg tasks (small SFT models: 1e-6 moves "
                "them too little to show in 40 steps)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping (0 = off)"})
    # --- reward ---------------------------------------------------------------------------
    l_cache: int = field(default=0, metadata={
        "help": "length-penalty ramp width (0 = a quarter of the current l_max)"})
    reward: MagistralRewardConfig = field(default_factory=MagistralRewardConfig, metadata={
        "help": "math/code tasks: Magistral's reward (its own config: --format-reward, "
                "--correctness-reward, --length-penalty, --language-reward)",
        # --thinking switches the prompt template and the format check together; the length
        # curriculum sets l_max and --l-cache its ramp.
        "skip": ("thinking", "l_max", "l_cache")})
    svg_reward: SvgRewardConfig = field(default_factory=SvgRewardConfig, metadata={
        "help": "svg tasks: the SVG reward (its own config; flags --svg-*)", "prefix": "svg-",
        # The layout sets grid and base vocabulary, --reward-workers the pool, the task
        # whether rows without a target score by consensus (svg-text).
        "skip": ("grid", "base_vocab_size", "workers", "consensus")})
    grammar_logprobs: bool = field(default=True, metadata={
        "help": "svg tasks: take log-probs (ratio, KL, entropy) over the tokens the grammar "
                "allowed — the distribution the sampler drew from; --no-grammar-logprobs "
                "normalises over the whole vocabulary, as a logits processor in TRL does"})
    reward_workers: int = field(default=1, metadata={"help": "verifier worker processes"})
    # --- asynchronous RL on Ray (Magistral §3; svgrl.rl.async_) -----------------------------
    asynchronous: bool = field(default=False, metadata={
        "aliases": ("--async",),
        "help": "Magistral's asynchronous system on Ray: generator actors decode without "
                "waiting for the trainer, take new weights between decode steps (KV caches "
                "kept) and the loss uses each token's behaviour log-prob"})
    ray_address: str = field(default="", metadata={
        "help": "--async: join this Ray cluster (the HOST:PORT `ray start --head` prints; "
                "this svgrl is shipped to its workers, the data and --init paths must be "
                "readable on every node); empty = a local Ray (2 CPUs, no dashboard, its "
                "files under RUN/ray)"})
    generators: int = field(default=1, metadata={"help": "--async: generator actors"})
    verifiers: int = field(default=1, metadata={"help": "--async: verifier actors"})
    max_staleness: int = field(default=2, metadata={
        "help": "--async: off-policy bound K — no token of an update was sampled more than K "
                "weight versions before it; older groups are regenerated"})
    queue_groups: int = field(default=0, metadata={
        "help": "--async: bound of the completion queue in groups (0 = 2 × prompts per step)"})
    # --- bookkeeping ----------------------------------------------------------------------
    save_every: int = field(default=10, metadata={"help": "checkpoint every N steps (0 = end)"})
    keep_last: int = field(default=2, metadata={
        "help": "checkpoints kept, 0 = all (`svgrl analyze` needs ≥ 3 for its weight PCA)"})
    eval_every: int = field(default=0, metadata={"help": "evaluate every N steps (0 = start "
                                                           "and end only)"})
    eval_samples: int = field(default=4, metadata={
        "help": "held-out evaluation: completions sampled per problem at the training "
                "temperature/top-p (fixed seed, same stream before and after); 0 = greedy"})
    log_kl_to_start: bool = field(default=True, metadata={
        "help": "log KL(π_θ ‖ π_start) on each batch (one extra forward of a frozen copy)"})
    threads: int = field(default=0, metadata={"help": "torch threads (0 = torch default)"})
    progress: bool = field(default=True, metadata={
        "help": "a progress bar over the token budget (completions × length cap) of each "
                "rollout and evaluation, with an ETA (a step of 128 samples takes minutes on "
                "a CPU)"})

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task {self.task!r} is not one of {TASKS}")
        for name in ("steps", "prompts_per_step", "max_completion_length", "max_prompt_length",
                     "generation_batch", "minibatches", "token_budget", "filter_k", "eval_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: use a value ≥ 1")
        if self.keep_last < 0:
            raise ConfigError(f"keep_last={self.keep_last}: use ≥ 1 checkpoints, or 0 to keep all")
        if self.eval_samples < 0:
            raise ConfigError(f"eval_samples={self.eval_samples}: use ≥ 1 (sampled) or 0 "
                              "(greedy)")
        if self.group_size < 2:
            raise ConfigError(
                f"group_size={self.group_size}: GRPO compares completions of one prompt, use ≥ 2")
        if not 0 <= self.epsilon_low < 1 or self.epsilon_high < 0:
            raise ConfigError(f"epsilon_low={self.epsilon_low}, epsilon_high="
                              f"{self.epsilon_high}: need 0 ≤ ε_low < 1 and ε_high ≥ 0 "
                              "(Magistral: 0.2 and 0.28)")
        if self.beta < 0 or self.entropy_coef < 0:
            raise ConfigError(f"beta={self.beta}, entropy_coef={self.entropy_coef}: use ≥ 0")
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ConfigError(f"temperature={self.temperature}, top_p={self.top_p}: need "
                              "temperature > 0 and 0 < top_p ≤ 1 (GRPO needs sampling)")
        if self.learning_rate < 0:
            raise ConfigError(f"learning_rate={self.learning_rate}: use a value > 0 (or 0 for "
                              "the task's default)")
        if self.learning_rate == 0:  # resolved here, so run.json records the value used
            self.learning_rate = 1e-4 if self.task in ("svg-image", "svg-text") else 1e-6
        if self.task in ("svg-image", "svg-text") and not self.data:
            raise ConfigError(f"task {self.task!r} needs --data FOLDER from `svgrl data build`")
        if self.task in ("svg-image", "svg-text"):
            if self.difficulty_filter:
                raise ConfigError(f"--difficulty-filter is for math/code (it needs a right/"
                                  f"wrong answer); drop it for --task {self.task}")
            if self.sampler != "svgrl":
                raise ConfigError(f"--task {self.task} samples under the SVG grammar with the "
                                  "vision prefix: use --sampler svgrl")
            if self.image_size % self.patch_size:
                raise ConfigError(f"--patch-size {self.patch_size} must divide --image-size "
                                  f"{self.image_size}")
        if self.l_cache < 0:
            raise ConfigError(f"l_cache={self.l_cache}: use ≥ 0 (0 = l_max / 4)")
        stages = self.stages()
        for _, l_max, _ in stages:
            if self.l_cache > l_max:
                raise ConfigError(f"l_cache={self.l_cache} exceeds l_max {l_max}: lower "
                                  "--l-cache or raise the stage's LMAX")
            if self.max_prompt_length + l_max > self.token_budget:
                raise ConfigError(
                    f"token_budget={self.token_budget} cannot hold one sequence of "
                    f"max_prompt_length {self.max_prompt_length} + l_max {l_max}; raise "
                    f"--token-budget to ≥ {self.max_prompt_length + l_max}")
        for _, _, prompts in stages:
            if prompts * self.group_size < self.minibatches:
                raise ConfigError(
                    f"{prompts} prompts × G={self.group_size} cannot fill {self.minibatches} "
                    "minibatches; lower --minibatches")
        if self.generators < 1 or self.verifiers < 1 or self.max_staleness < 0 \
                or self.queue_groups < 0:
            raise ConfigError("need --generators ≥ 1, --verifiers ≥ 1, --max-staleness ≥ 0 and "
                              "--queue-groups ≥ 0")
        if self.asynchronous and (self.difficulty_filter or self.sampler != "svgrl"):
            raise ConfigError("--async samples with the svgrl decoder and has no difficulty "
                              "filter; drop --difficulty-filter / --sampler hf")
        if self.one_shot and self.difficulty_filter:
            raise ConfigError("--one-shot picks one example by --one-shot-index; drop "
                              "--difficulty-filter (or filter first and pick from its output)")

    @property
    def seed(self) -> int:
        """The run's one seed (``--seed``): initialisation, data order and sampling."""
        return self.model.seed

    def stages(self) -> list[tuple[int, int, int]]:
        """Length curriculum: ``(start_step, l_max, prompts_per_step)``, from step 0."""
        if not self.length_stages:
            return [(0, self.max_completion_length, self.prompts_per_step)]
        return parse_stages(self.length_stages)

    def stage_at(self, step: int) -> tuple[int, int]:
        """``(l_max, prompts_per_step)`` in force at `step`."""
        current = self.stages()[0]
        for s in self.stages():
            if s[0] <= step:
                current = s
        return current[1], current[2]

    def system_text(self) -> str:
        return SYSTEM_PROMPTS.get(self.system_prompt, self.system_prompt)
