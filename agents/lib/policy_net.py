"""Policy networks for MLGO features, and their export to ONNX, the form the compiler service runs.

The inliner's features are heavy-tailed integer counts (``edge_count`` in the hundreds,
``last_call_to_static_bonus`` 15000, ``callsite_cost`` negative), so every feature goes through a
signed logarithm ``sign(x)·log(1+|x|)`` before any layer sees it; NaNs (LLVM sends some for
``use_def_density``) become 0. The inliner's own rule compares ``cost_estimate`` with
``threshold``, a difference the log transform would lose, so their signed-log difference is added
as a derived feature ("margin"): one weight is then enough to express LLVM's heuristic.

The same `FeatureEncoder` serves three users: SB3 (`SignedLogExtractor`), the evolution strategy
(`PolicyNet` with no hidden layer is a linear policy) and the exported `GreedyPolicy`:
``forward(obs: Dict[str, Tensor]) -> Tensor`` takes one observation with the shapes LLVM
declares and returns the int64 action. `OnnxExport` turns it into the ONNX model the service's
rollouts and local code run (`mlgo_env.onnx_policy.OnnxPolicy`): data, not code.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import onnx
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

from mlgo_env.packed import PACKED_INPUT, PackedLayout

__all__ = [
    "INLINING_DERIVED",
    "CandidateEncoder",
    "FeatureEncoder",
    "GreedyPolicy",
    "OnnxExport",
    "PackedPolicy",
    "PolicyNet",
    "SignedLogExtractor",
    "density_rule",
    "encoder_for",
    "export_sb3_policy",
    "greedy_from_net",
    "greedy_from_onnx",
    "mask_feature_of",
    "policy_net_for",
    "sb3_greedy_policy",
    "to_onnx",
]

EXCLUDED_FEATURES = ("inlining_default",)
"""Never a policy input: present only with ``include_default``, and a policy must not copy it."""

INLINING_DERIVED = (("threshold", "cost_estimate"),)
"""Derived inputs ``signed_log(a - b)`` for the inliner: how far a call site is under its threshold."""


def signed_log(x: Tensor) -> Tensor:
    """``sign(x)·log(1+|x|)`` with NaN mapped to 0 and ±inf (and beyond ±1e30) to ±1e30 first.

    Written with the operators ONNX has (``log(1 + |x|)``: ONNX has no ``log1p``; exact for the
    integer counts), so the exported policy computes what this function computes.
    """
    x = x.float()
    x = torch.where(torch.isnan(x), torch.zeros_like(x), x).clamp(-1e30, 1e30)
    return torch.sign(x) * torch.log(1 + torch.abs(x))


class FeatureEncoder(nn.Module):
    """Flattens a dict observation into one signed-log feature row per sample.

    Works batched (SB3: each feature ``(B, *shape)``) and unbatched (the service: ``shape``),
    because each feature is reshaped to ``(-1, size)`` with its declared size.

    Args:
        features: ``(name, number of elements)`` of every input, in order.
        derived: ``(a, b)`` pairs added as ``signed_log(a - b)`` (scalar features only).
    """

    def __init__(self, features: Sequence[tuple[str, int]], derived: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__()
        self.names: list[str] = [name for name, _ in features]
        self.sizes: list[int] = [int(size) for _, size in features]
        self.derived_a: list[str] = [a for a, _ in derived]
        self.derived_b: list[str] = [b for _, b in derived]
        self.out_features = sum(self.sizes) + len(self.derived_a)

    def input_names(self) -> list[str]:
        """A name for every group of input columns (for the metadata of saved policies)."""
        return self.names + [f"{a}-{b}" for a, b in zip(self.derived_a, self.derived_b, strict=True)]

    def observation_keys(self) -> list[str]:
        """The features `forward` reads."""
        return list(dict.fromkeys(self.names + self.derived_a + self.derived_b))

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        """``(B, out_features)`` float32 features (one signed log over the packed row: a small graph)."""
        columns = [obs[name].reshape(-1, size).float() for name, size in zip(self.names, self.sizes, strict=True)]
        for a, b in zip(self.derived_a, self.derived_b, strict=True):
            columns.append((obs[a].reshape(-1, 1).double() - obs[b].reshape(-1, 1).double()).float())
        return signed_log(torch.cat(columns, dim=1))


class CandidateEncoder(nn.Module):
    """Eviction features as one signed-log row per candidate register: ``(B, candidates, F)``.

    LLVM describes each of the 33 eviction candidates by the same features (each declared
    ``(1, 33)``), so one small scorer shared by all candidates is enough, and it has few enough
    weights for ES. Scalar features (``progress``) are repeated for every candidate, and a last
    column marks the final candidate: the live range being allocated, i.e. "evict nothing".

    Args:
        per_candidate: names of the features with one value per candidate.
        scalars: names of the features with one value per decision.
        candidates: the number of candidates (the action count).
    """

    is_current: Tensor

    def __init__(self, per_candidate: Sequence[str], scalars: Sequence[str], candidates: int) -> None:
        super().__init__()
        self.per_candidate = list(per_candidate)
        self.scalars = list(scalars)
        self.candidates = candidates
        self.names = self.per_candidate + self.scalars + ["is_current"]
        self.out_features = len(self.names)
        self.register_buffer("is_current", (torch.arange(candidates) == candidates - 1).float())

    def input_names(self) -> list[str]:
        """The name of every input column (for the metadata of saved policies)."""
        return list(self.names)

    def observation_keys(self) -> list[str]:
        """The features `forward` reads."""
        return self.per_candidate + self.scalars

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        """``(B, candidates, out_features)`` float32 features."""
        columns = [obs[name].reshape(-1, self.candidates).float() for name in self.per_candidate]
        batch = columns[0].shape[0]
        columns += [obs[name].reshape(-1, 1).float().expand(batch, self.candidates) for name in self.scalars]
        features = signed_log(torch.stack(columns, dim=-1))
        return torch.cat([features, self.is_current.expand(batch, self.candidates).unsqueeze(-1)], dim=-1)


def encoder_for(observation_space: spaces.Dict) -> FeatureEncoder:
    """The encoder of an environment's observation space (inliner margin added when it applies)."""
    features = [
        (name, int(torch.tensor(space.shape).prod().item()))
        for name, space in observation_space.spaces.items()
        if name not in EXCLUDED_FEATURES
    ]
    names = {name for name, _ in features}
    derived = [(a, b) for a, b in INLINING_DERIVED if a in names and b in names]
    return FeatureEncoder(features, derived)


def _mlp(in_features: int, hidden: Sequence[int], out_features: int) -> nn.Sequential:
    """Tanh MLP (SB3's default activation); no hidden layer gives a linear map."""
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.Tanh()]
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class PolicyNet(nn.Module):
    """Encoder + MLP giving one logit per action: ``(B, n_actions)``.

    With a `CandidateEncoder` the MLP scores each candidate (one output, shared weights) and the
    scores are the logits; otherwise it maps the whole feature row to `n_actions` logits.

    Args:
        encoder: the feature encoder.
        n_actions: 2 for inlining, 33 for eviction.
        hidden: hidden layer widths (``()``: a linear policy, what ES trains by default).
    """

    def __init__(self, encoder: FeatureEncoder | CandidateEncoder, n_actions: int, hidden: Sequence[int] = ()) -> None:
        super().__init__()
        self.encoder = encoder
        if isinstance(encoder, CandidateEncoder):
            self.head: nn.Module = nn.Sequential(_mlp(encoder.out_features, hidden, 1), nn.Flatten(1))
        else:
            self.head = _mlp(encoder.out_features, hidden, n_actions)

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        """Logits, ``(B, n_actions)``."""
        return self.head(self.encoder(obs))


def mask_feature_of(observation_space: spaces.Dict) -> str:
    """The feature marking legal actions (eviction's ``mask``), or "" when every action is legal."""
    return "mask" if "mask" in observation_space.spaces else ""


def policy_net_for(observation_space: spaces.Dict, n_actions: int, hidden: Sequence[int] = ()) -> PolicyNet:
    """The `PolicyNet` that suits a task: a per-candidate scorer for eviction, else a flat MLP."""
    mask = mask_feature_of(observation_space)
    if mask and math.prod(observation_space[mask].shape or ()) == n_actions:
        per_candidate, scalars = [], []
        for name, space in observation_space.spaces.items():
            if name in EXCLUDED_FEATURES:
                continue
            size = math.prod(space.shape or ())
            if size == n_actions and name != mask:
                per_candidate.append(name)
            elif size == 1:
                scalars.append(name)
        return PolicyNet(CandidateEncoder(per_candidate, scalars, n_actions), n_actions, hidden)
    return PolicyNet(encoder_for(observation_space), n_actions, hidden)


def density_rule(net: PolicyNet, current_bias: float = 0.15) -> PolicyNet:
    """Set a linear candidate scorer to an LLVM-like eviction rule (ES's warm start for eviction).

    LLVM's greedy allocator evicts the interference of least spill weight, and only when it weighs
    less than the live range being allocated. The scorer's nearest linear form: score each
    candidate by minus its ``use_def_density`` (spill weight per size), with a small bonus for
    the live range itself (the last candidate: evict nothing). Several training programs compile
    to the same code as with LLVM's default advisor (see agents/policies/README.md for the bias).
    """
    encoder = net.encoder
    if not isinstance(encoder, CandidateEncoder) or "use_def_density" not in encoder.names:
        raise ValueError("the density rule needs a candidate scorer over the eviction features")
    layer = net.head[0][0] if isinstance(net.head, nn.Sequential) and isinstance(net.head[0], nn.Sequential) else None
    if not isinstance(layer, nn.Linear):
        raise ValueError("the density rule sets a linear scorer: build the net with hidden=()")
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
        layer.weight[0, encoder.names.index("use_def_density")] = -1.0
        layer.weight[0, encoder.names.index("is_current")] = current_bias
    return net


class GreedyPolicy(nn.Module):
    """The exported policy: argmax of the logits over legal actions, as an int64 tensor of shape (1,).

    Args:
        encoder: the feature encoder.
        head: maps encoded features to logits.
        mask_feature: the feature marking legal actions (eviction's ``mask``); "" for none.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, mask_feature: str = "") -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.mask_feature = mask_feature

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        """The action for one observation (or one per row of a batch)."""
        logits = self.head(self.encoder(obs))
        if self.mask_feature != "":
            legal = obs[self.mask_feature].reshape(logits.shape) != 0
            logits = torch.where(legal, logits, -1e9)
        return torch.argmax(logits, dim=-1).to(torch.int64).reshape(-1)

    def observation_keys(self) -> list[str]:
        """The features the policy reads (the inputs of its ONNX model)."""
        keys = self.encoder.observation_keys()  # type: ignore[operator]
        return keys + [self.mask_feature] if self.mask_feature and self.mask_feature not in keys else keys


class PackedPolicy(nn.Module):
    """A `GreedyPolicy` on the packed observation (`mlgo_env.packed`): one float32 vector, the header's order.

    The features the encoder reads are gathered from the vector (``index_select``: one ONNX
    ``Gather`` per group of columns, no reshape or cast per feature), so the exported graph has
    a handful of nodes and one input to bind. Computes what the policy computes on the same
    observation (the inliner's margin in float32: exact for LLVM's counts).

    Args:
        policy: the greedy policy (weights shared).
        layout: the channel header's layout (``PackedLayout.of(env.unwrapped.feature_specs)``; a
            Gym ``Dict`` space sorts its keys, so it cannot say the header's order).
    """

    policy: GreedyPolicy
    columns: Tensor
    scalars: Tensor
    derived_a: Tensor
    derived_b: Tensor
    mask: Tensor
    is_current: Tensor

    def __init__(self, policy: GreedyPolicy, layout: PackedLayout) -> None:
        super().__init__()
        self.policy = policy
        self.layout = layout
        self.size = self.layout.size
        encoder = policy.encoder

        def index(names: Sequence[str]) -> Tensor:
            return torch.tensor([i for n in names for i in range(*self.layout.slices[n].indices(self.size))])

        self.candidates = encoder.candidates if isinstance(encoder, CandidateEncoder) else 0
        if isinstance(encoder, CandidateEncoder):
            self.register_buffer("columns", index(encoder.per_candidate).reshape(-1, self.candidates).T.contiguous())
            self.register_buffer("scalars", index(encoder.scalars))
            self.register_buffer("is_current", encoder.is_current.clone())
        elif isinstance(encoder, FeatureEncoder):
            self.register_buffer("columns", index(encoder.names))
            self.register_buffer("derived_a", index(encoder.derived_a))
            self.register_buffer("derived_b", index(encoder.derived_b))
        else:
            raise TypeError(f"no packed form for the encoder {type(encoder).__name__}")
        self.register_buffer("mask", index([policy.mask_feature] if policy.mask_feature else []))

    def encode(self, packed: Tensor) -> Tensor:
        """The encoder's features from packed rows ``(B, size)``."""
        if self.candidates:
            per_candidate = packed.index_select(1, self.columns.reshape(-1)).reshape(-1, *self.columns.shape)
            scalars = packed.index_select(1, self.scalars).unsqueeze(1).expand(-1, self.candidates, -1)
            features = signed_log(torch.cat([per_candidate, scalars], dim=-1))
            current = self.is_current.expand(packed.shape[0], self.candidates).unsqueeze(-1)
            return torch.cat([features, current], dim=-1)
        margin = packed.index_select(1, self.derived_a) - packed.index_select(1, self.derived_b)
        return signed_log(torch.cat([packed.index_select(1, self.columns), margin], dim=1))

    def forward(self, packed: Tensor) -> Tensor:
        """The action of each packed observation (one vector, or rows of a batch)."""
        packed = packed.reshape(-1, self.size).float()
        logits = self.policy.head(self.encode(packed))
        if self.mask.numel():
            logits = torch.where(packed.index_select(1, self.mask) != 0, logits, -1e9)
        return torch.argmax(logits, dim=-1).to(torch.int64).reshape(-1)


class _ByPosition(nn.Module):
    """The policy with one positional argument per feature: ``torch.onnx.export`` names each input."""

    def __init__(self, policy: GreedyPolicy, names: Sequence[str]) -> None:
        super().__init__()
        self.policy = policy
        self.names = list(names)

    def forward(self, *features: Tensor) -> Tensor:
        return self.policy(dict(zip(self.names, features, strict=True)))


class OnnxExport:
    """A policy's ONNX model, exported once by ``torch.onnx.export``; a call writes the current weights in.

    The model's inputs are the features the policy reads, named, typed and shaped as the
    observation space declares (what the service checks), and its output ``action`` is one int64.
    Exporting takes seconds (torch traces, decomposes and translates the module), and ES scores
    dozens of candidates a generation and PPO exports at every checkpoint: so the graph is built
    once, its optimiser told to keep the parameters as named initialisers, and each call copies
    the parameters' values into those. Not thread-safe (the calls share one model).

    Args:
        policy: the greedy policy; its parameters may change between calls, not its structure.
        observation_space: the environment's observation space.
        packed: the channel header's layout: the model takes one float32 input ``packed``
            instead (`PackedPolicy`), cheaper to call.
    """

    def __init__(
        self, policy: GreedyPolicy, observation_space: spaces.Dict, packed: PackedLayout | None = None
    ) -> None:
        module: nn.Module
        if packed is not None:
            module = PackedPolicy(policy, packed)
            names = [PACKED_INPUT]
            example: tuple[Tensor, ...] = (torch.zeros(module.size),)
        else:
            names = policy.observation_keys()
            module = _ByPosition(policy, names)
            example = tuple(
                torch.from_numpy(np.zeros(observation_space[n].shape, observation_space[n].dtype)) for n in names
            )
        self._parameters = {f"policy.{name}": p for name, p in policy.named_parameters()}
        training = policy.training
        try:
            self._model = _export(module.eval(), example, names, list(self._parameters))
        finally:
            policy.train(training)
        by_name = {tensor.name: tensor for tensor in self._model.graph.initializer}
        self._initializers = {name: by_name[name] for name in self._parameters}

    def __call__(self) -> bytes:
        """The serialised ONNX model with the policy's weights as they are now."""
        for name, parameter in self._parameters.items():
            tensor = self._initializers[name]
            tensor.ClearField("float_data")
            tensor.raw_data = parameter.detach().to(torch.float32).cpu().contiguous().numpy().tobytes()
        return self._model.SerializeToString()


def to_onnx(policy: GreedyPolicy, observation_space: spaces.Dict, packed: PackedLayout | None = None) -> bytes:
    """The ONNX model of `policy` (see `OnnxExport`): the bytes the service's ``Rollout`` takes."""
    return OnnxExport(policy, observation_space, packed)()


def _export(module: nn.Module, example: tuple[Tensor, ...], names: list[str], keep: list[str]) -> onnx.ModelProto:
    """``torch.onnx.export`` of `module`, optimised with the initialisers `keep` left as they are.

    Raises:
        RuntimeError: a parameter did not survive as a named float initialiser.
    """
    with _quiet_exporter():
        program = torch.onnx.export(
            module, example, input_names=names, output_names=["action"], dynamo=True, optimize=False, verbose=False
        )
        assert program is not None
        graph = program.model.graph
        kept = [graph.initializers[name] for name in keep]
        for value in kept:  # an input is never constant-folded (a Linear's weight would become its transpose)
            graph.inputs.append(value)
        program.optimize()
        for value in kept:
            graph.inputs.remove(value)
    model = program.model_proto
    _strip(model)
    found = {t.name: t for t in model.graph.initializer}
    for name in keep:
        if name not in found or found[name].data_type != onnx.TensorProto.FLOAT:
            raise RuntimeError(f"the exported graph lost the parameter {name!r}; export with to_onnx instead")
    return model


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence what the exporter says about its own internals (torchvision, pytree, kept initialisers)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _strip(model: onnx.ModelProto) -> None:
    """Drop the exporter's per-node stack traces and doc strings (most of the file's bytes)."""
    model.ClearField("metadata_props")
    model.doc_string = ""
    for node in model.graph.node:
        node.ClearField("metadata_props")
        node.doc_string = ""
    for value in (*model.graph.input, *model.graph.output, *model.graph.value_info):
        value.ClearField("metadata_props")
        value.doc_string = ""
    for tensor in model.graph.initializer:
        tensor.ClearField("metadata_props")


def greedy_from_onnx(data: bytes, observation_space: spaces.Dict, n_actions: int) -> GreedyPolicy:
    """The greedy policy of a model `OnnxExport` wrote (its weights are named initialisers), e.g. to export it packed.

    Raises:
        ValueError: the model's weights are not those of a `policy_net_for` net of this space.
    """
    model = onnx.load_from_string(data)
    weights = {t.name.removeprefix("policy."): t for t in model.graph.initializer if t.name.startswith("policy.")}
    layers = sorted(
        (name for name in weights if name.endswith(".weight")), key=lambda n: [int(x) for x in n.split(".")[1:-1]]
    )
    hidden = [int(weights[name].dims[0]) for name in layers[:-1]]
    net = policy_net_for(observation_space, n_actions, hidden)
    state = {name: torch.from_numpy(onnx.numpy_helper.to_array(tensor).copy()) for name, tensor in weights.items()}
    if set(state) != {name for name, _ in net.named_parameters()}:
        raise ValueError(f"the model's weights {sorted(state)} are not those of a policy net of this space")
    try:
        net.load_state_dict(state, strict=False)  # the buffers (is_current) are the net's own
    except RuntimeError as exc:
        raise ValueError(f"the model's weights do not fit a policy net of this space: {exc}") from exc
    return greedy_from_net(net, mask_feature_of(observation_space))


def greedy_from_net(net: PolicyNet, mask_feature: str = "") -> GreedyPolicy:
    """The deployable greedy policy of a `PolicyNet` (weights shared)."""
    return GreedyPolicy(net.encoder, net.head, mask_feature)


# -- stable-baselines3 ----------------------------------------------------------------------


class SignedLogExtractor(BaseFeaturesExtractor):
    """SB3 features extractor: `FeatureEncoder` over a Dict observation space.

    Pass ``policy_kwargs={"features_extractor_class": SignedLogExtractor}`` to PPO/MaskablePPO.
    """

    def __init__(self, observation_space: spaces.Dict) -> None:
        encoder = encoder_for(observation_space)
        super().__init__(observation_space, features_dim=encoder.out_features)
        self.encoder = encoder

    def forward(self, observations: dict[str, Tensor]) -> Tensor:
        """Encoded features ``(B, features_dim)``."""
        return self.encoder(observations)


def sb3_greedy_policy(model: object, mask_feature: str = "") -> GreedyPolicy:
    """The greedy actor of an SB3 (Maskable)PPO policy, sharing its modules (and so its weights).

    The actor is the features extractor's encoder, then ``mlp_extractor.policy_net`` and
    ``action_net`` — exactly the modules SB3's ``predict(deterministic=True)`` runs.
    """
    policy = model.policy  # type: ignore[attr-defined]
    extractor = policy.pi_features_extractor
    if not isinstance(extractor, SignedLogExtractor):
        raise TypeError("export needs a policy trained with features_extractor_class=SignedLogExtractor")
    head = nn.Sequential(*policy.mlp_extractor.policy_net, policy.action_net)
    return GreedyPolicy(extractor.encoder, head, mask_feature).cpu()


def export_sb3_policy(model: object, mask_feature: str = "") -> OnnxExport:
    """The ONNX export of an SB3 policy's greedy actor: call it for the model with the current weights."""
    return OnnxExport(sb3_greedy_policy(model, mask_feature), model.observation_space)  # type: ignore[attr-defined]


def load_into_sb3(model: object, state_dict: dict[str, Tensor]) -> None:
    """Copy a `PolicyNet` state dict (e.g. from behavioural cloning) into an SB3 policy's actor.

    The PolicyNet's hidden layers must match the SB3 ``net_arch`` (pi): its head's Linear layers
    map, in order, onto ``mlp_extractor.policy_net`` and then ``action_net``.
    """
    policy = model.policy  # type: ignore[attr-defined]
    targets = [m for m in policy.mlp_extractor.policy_net if isinstance(m, nn.Linear)] + [policy.action_net]
    layers = sorted({key.split(".")[1] for key in state_dict if key.startswith("head.")}, key=int)
    if len(layers) != len(targets):
        raise ValueError(
            f"the state dict has {len(layers)} linear layers but the SB3 actor has {len(targets)}; "
            "train the warm start with --hidden equal to the PPO --net-arch"
        )
    with torch.no_grad():
        for layer, target in zip(layers, targets, strict=True):
            target.weight.copy_(state_dict[f"head.{layer}.weight"])
            target.bias.copy_(state_dict[f"head.{layer}.bias"])
