"""How much memory fine-tuning a Llama-shaped model needs, per process, from its shape alone.

    from iclft.memory import estimate, LLAMA_2_7B
    parts = estimate(LLAMA_2_7B, method="full", weight_dtype="bfloat16", batch_size=8, seq_len=2048,
                     gradient_checkpointing=True, processes=8, fsdp=True)
    parts["peak"] / 1e9  # GB

`estimate` returns bytes by part, as iclft's loop (`iclft.exposure.finetune`) trains:

- weights: every parameter in the model dtype (plus the LoRA adapter, kept in fp32 by peft);
- gradients: one per trainable parameter, in its dtype;
- optimizer: torch's AdamW keeps 2 states per trainable parameter in the parameter's dtype
  (fp32 weights: 8 B per parameter; bf16 weights: 4 B). iclft keeps no fp32 master copy: the
  weights stay in the model dtype and bf16 runs under autocast (`master_weights=True` adds
  the 4 B per trainable parameter that a master copy would cost);
- optimizer_step: AdamW's temporaries: a copy of all second moments (their square roots) when
  it steps all tensors at once (`foreach`, torch's default on GPUs), or two copies of the
  largest tensor's when it steps one tensor at a time (on CPUs);
- activations: what the decoder blocks keep for the backward pass (`block_activations`);
  with gradient checkpointing only each block's input, plus one block recomputed at a time;
- logits: tokens × vocabulary, three copies at the loss (the head's output, the fp32 copy
  the loss reads, the log-softmax kept for backward; in backward its gradients take their place);
- autocast_weights: under bf16 autocast over fp32 weights, the bf16 copies of the linear
  weights that the forward pass keeps for backward.

FSDP over P processes divides weights, gradients and optimizer states by P, and adds the
unsharded weights being used (the root's embeddings and head, two blocks: the current and
the prefetched one) and one block's unsharded gradients before they are reduced.

The peak is weights + optimizer + the larger of (activations + logits + autocast copies), at
the end of the forward pass, and (gradients + optimizer_step), at the end of the backward
pass: gradients are set to None between steps, and activations are freed as backward runs.
Not modelled: the framework's own memory (CUDA context, allocator fragmentation, the Python
and torch runtime on CPU), the attention mask (batch × seq² bytes once) and small tensors
(RMSNorm statistics, rotary tables, the loss).
"""

from __future__ import annotations

from dataclasses import dataclass

BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ADAPTER_BYTES = 4  # peft keeps LoRA weights in fp32 even on bf16 models (autocast_adapter_dtype)


@dataclass(frozen=True)
class ModelShape:
    """The shape of a Llama-style decoder (no biases, RMSNorm, gated MLP)."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool  # the output head shares the embedding matrix
    head_dim: int | None = None  # default hidden // heads

    @property
    def dim(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @classmethod
    def from_config(cls, config) -> ModelShape:
        """The shape of a transformers Llama config (e.g. `lm.module.config`)."""
        return cls(
            layers=config.num_hidden_layers,
            hidden=config.hidden_size,
            intermediate=config.intermediate_size,
            heads=config.num_attention_heads,
            kv_heads=config.num_key_value_heads,
            vocab=config.vocab_size,
            tied=config.tie_word_embeddings,
            head_dim=getattr(config, "head_dim", None),
        )


# published shapes
SMOLLM2_135M = ModelShape(layers=30, hidden=576, intermediate=1536, heads=9, kv_heads=3, vocab=49152, tied=True)
LLAMA_3_2_1B = ModelShape(layers=16, hidden=2048, intermediate=8192, heads=32, kv_heads=8, vocab=128256, tied=True)
LLAMA_2_7B = ModelShape(layers=32, hidden=4096, intermediate=11008, heads=32, kv_heads=32, vocab=32000, tied=False)
LLAMA_3_70B = ModelShape(layers=80, hidden=8192, intermediate=28672, heads=64, kv_heads=8, vocab=128256, tied=False)


def projections(shape: ModelShape) -> dict[str, tuple[int, int]]:
    """(in, out) features of each linear layer of one block."""
    h, i, q, kv = shape.hidden, shape.intermediate, shape.heads * shape.dim, shape.kv_heads * shape.dim
    return {
        "q_proj": (h, q),
        "k_proj": (h, kv),
        "v_proj": (h, kv),
        "o_proj": (q, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
    }


def block_parameters(shape: ModelShape) -> int:
    """One decoder block: seven projections and two RMSNorm weights."""
    return sum(n_in * n_out for n_in, n_out in projections(shape).values()) + 2 * shape.hidden


def root_parameters(shape: ModelShape) -> int:
    """Outside the blocks: embeddings, the final norm, and the head unless tied."""
    embedding = shape.vocab * shape.hidden
    return embedding * (1 if shape.tied else 2) + shape.hidden


def parameter_count(shape: ModelShape) -> int:
    return shape.layers * block_parameters(shape) + root_parameters(shape)


def lora_parameter_count(shape: ModelShape, rank: int, targets: tuple[str, ...] = PROJECTIONS) -> int:
    """A rank-`rank` adapter (A: in × r, B: r × out) on each targeted projection of every block."""
    per_block = sum(rank * (n_in + n_out) for name, (n_in, n_out) in projections(shape).items() if name in targets)
    return shape.layers * per_block


def largest_trainable(shape: ModelShape, method: str, lora_rank: int) -> int:
    """Elements of the largest trainable tensor: the embedding matrix, or a LoRA matrix."""
    if method == "lora":
        return lora_rank * max(max(dims) for dims in projections(shape).values())
    return max(shape.vocab * shape.hidden, max(n_in * n_out for n_in, n_out in projections(shape).values()))


def block_activations(
    shape: ModelShape,
    seq_len: int,
    method: str = "lora",
    act_bytes: int = 4,
    weight_bytes: int = 4,
    lora_rank: int = 16,
    lora_targets: tuple[str, ...] = PROJECTIONS,
    lora_input_bytes: int = 0,
    attention: str = "sdpa",
    padded: bool = True,
) -> dict[str, int]:
    """Bytes one decoder block keeps for backward, per sequence of `seq_len` tokens, by op.

    Following transformers' Llama block: a linear layer keeps its input when its weight trains;
    RMSNorm computes in fp32 and keeps its fp32 input, its normalized value (in the weights'
    dtype) when its weight trains, and passes its output on in the activation dtype; the rotary
    embedding keeps nothing big (it multiplies by constants). SDPA (what iclft's models use:
    `lm.module.config._attn_implementation`) keeps q, k, v, its output and a log-sum-exp per
    head; its output is also o_proj's input (transposing it to o_proj's layout copies nothing);
    with padding (an attention mask) transformers repeats k and v to all heads first.
    Eager attention keeps the fp32 probabilities, heads × seq² per sequence. The MLP keeps gate,
    silu(gate), up and their product. A LoRA layer keeps its input and A·x; when the adapter
    computes in another dtype than the activations (`lora_input_bytes` > 0: peft's fp32
    adapter on bf16 activations, or autocast) every LoRA layer keeps its own cast copy of its
    input, and the copies replace the shared inputs. iclft adapts every projection; with fewer
    `lora_targets` the shared inputs are still all counted (an upper bound).
    """
    full, a, T = method == "full", act_bytes, seq_len
    h, i = shape.hidden, shape.intermediate
    q, kv = shape.heads * shape.dim, shape.kv_heads * shape.dim
    targets = {name: dims for name, dims in projections(shape).items() if name in lora_targets}
    copies = lora_input_bytes if not full else 0
    norm_out = 0 if copies else a * h  # the output, shared by the layers that read it
    norm = 4 * h + (weight_bytes * h if full else 0) + norm_out
    kv_kept = q if (padded or attention == "eager") else kv
    if attention == "eager":
        probs = shape.heads * T * (4 + (a if a != 4 else 0))  # fp32 softmax, its cast to the act dtype
        attention_kept = a * (q + 2 * kv_kept) + probs + (0 if copies else a * q)  # q, k, v, probs, o_proj's input
    else:  # q, k, v, the output (laid out as o_proj's input: one tensor for both), log-sum-exp
        attention_kept = a * (q + 2 * kv_kept) + a * q + 4 * shape.heads
    mlp = (3 if copies else 4) * a * i  # gate, silu(gate), up (and their product, down_proj's input)
    lora = 0
    if not full:
        lora = (copies or a) * lora_rank * len(targets)  # A·x
        lora += copies * sum(n_in for n_in, _ in targets.values())  # each layer's own input copy
    per_token = {"norms": 2 * norm, "attention": attention_kept, "mlp": mlp, "lora": lora}
    return {name: value * T for name, value in per_token.items()}


def estimate(
    shape: ModelShape,
    method: str = "lora",
    lora_rank: int = 16,
    lora_targets: tuple[str, ...] = PROJECTIONS,
    weight_dtype: str = "float32",
    mixed_precision: str = "no",
    batch_size: int = 8,
    seq_len: int = 512,
    gradient_checkpointing: bool = False,
    processes: int = 1,
    fsdp: bool = False,
    attention: str = "sdpa",
    padded: bool = True,
    foreach_optimizer: bool = True,
    master_weights: bool = False,
) -> dict[str, int]:
    """Bytes per process by part (see the module's docstring) and their `peak`.

    `batch_size` × `seq_len` is one process's micro-batch (the global batch divided by
    processes × gradient accumulation)."""
    if method not in ("lora", "full"):
        raise ValueError(f"method '{method}': expected lora or full")
    w = BYTES[weight_dtype]
    a = 2 if (mixed_precision == "bf16" or w == 2) else 4
    n_model = parameter_count(shape)
    n_adapter = lora_parameter_count(shape, lora_rank, lora_targets) if method == "lora" else 0
    tokens = batch_size * seq_len
    trainable_bytes = n_adapter * ADAPTER_BYTES if method == "lora" else n_model * w
    largest_bytes = largest_trainable(shape, method, lora_rank) * (ADAPTER_BYTES if method == "lora" else w)

    weights = n_model * w + n_adapter * ADAPTER_BYTES
    gradients = trainable_bytes
    optimizer = 2 * trainable_bytes + (4 * (n_adapter or n_model) if master_weights and w != 4 else 0)
    optimizer_step = trainable_bytes if foreach_optimizer else 2 * largest_bytes

    lora_input_bytes = 2 if mixed_precision == "bf16" else (ADAPTER_BYTES if w != ADAPTER_BYTES else 0)
    block = block_activations(
        shape, seq_len, method, a, w, lora_rank, lora_targets, lora_input_bytes, attention, padded
    )
    one_block = sum(block.values()) * batch_size
    if gradient_checkpointing:  # each block's input (the residual stream, in the weights' dtype), one recomputed
        activations = shape.layers * w * shape.hidden * tokens + one_block
    else:
        activations = shape.layers * one_block
    final_norm = 4 + (w + a if method == "full" else 0)  # fp32 input; normalized and output if the head trains
    activations += final_norm * shape.hidden * tokens
    logits = (a + 8) * tokens * shape.vocab  # the head's output, its fp32 copy, the log-softmax

    autocast_weights = 0
    if mixed_precision == "bf16" and w == 4:
        block_linear = block_parameters(shape) - 2 * shape.hidden
        blocks = 1 if (method == "lora" and gradient_checkpointing) else shape.layers  # the one recomputed
        autocast_weights = 2 * (blocks * block_linear + shape.vocab * shape.hidden)  # and the head

    gathered = 0
    if fsdp:
        weights //= processes
        gradients //= processes
        optimizer //= processes
        optimizer_step //= processes
        block_bytes = block_parameters(shape) * w
        gathered = root_parameters(shape) * w + 2 * block_bytes  # unsharded while in use
        gradients += block_bytes if method == "full" else 0  # one block's, before reduce-scatter

    forward_end = activations + logits + autocast_weights
    backward_end = gradients + optimizer_step
    parts = {
        "weights": weights,
        "fsdp_gathered": gathered,
        "gradients": gradients,
        "optimizer": optimizer,
        "optimizer_step": optimizer_step,
        "activations": activations,
        "logits": logits,
        "autocast_weights": autocast_weights,
    }
    parts["peak"] = weights + gathered + optimizer + max(forward_end, backward_end)
    return parts
