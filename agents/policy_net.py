"""Policy networks for MLGO features, and their export to TorchScript for rollout mode.

The inliner's features are heavy-tailed integer counts (``edge_count`` in the hundreds,
``last_call_to_static_bonus`` 15000, ``callsite_cost`` negative), so every feature goes through a
signed logarithm ``sign(x)·log(1+|x|)`` before any layer sees it; NaNs (LLVM sends some for
``use_def_density``) become 0. The inliner's own rule compares ``cost_estimate`` with
``threshold``, a difference the log transform would lose, so their signed-log difference is added
as a derived feature ("margin"): one weight is then enough to express LLVM's heuristic.

The same `FeatureEncoder` serves three users: SB3 (`SignedLogExtractor`), the evolution strategy
(`PolicyNet` with no hidden layer is a linear policy) and the exported `GreedyPolicy`, which is
what the compiler service runs: ``forward(obs: Dict[str, Tensor]) -> Tensor`` takes one
observation with the shapes LLVM declares and returns the int64 action.
"""

import io
import math
from collections.abc import Sequence

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

__all__ = [
    "INLINING_DERIVED",
    "CandidateEncoder",
    "FeatureEncoder",
    "GreedyPolicy",
    "PolicyNet",
    "SignedLogExtractor",
    "density_rule",
    "encoder_for",
    "export_sb3_policy",
    "greedy_from_net",
    "mask_feature_of",
    "policy_net_for",
    "to_torchscript",
]

EXCLUDED_FEATURES = ("inlining_default",)
"""Never a policy input: present only with ``include_default``, and a policy must not copy it."""

INLINING_DERIVED = (("threshold", "cost_estimate"),)
"""Derived inputs ``signed_log(a - b)`` for the inliner: how far a call site is under its threshold."""


def signed_log(x: Tensor) -> Tensor:
    """``sign(x)·log(1+|x|)`` with NaN and ±inf mapped to finite values first."""
    x = torch.nan_to_num(x.float(), nan=0.0, posinf=1e30, neginf=-1e30)
    return torch.sign(x) * torch.log1p(torch.abs(x))


class FeatureEncoder(nn.Module):
    """Flattens a dict observation into one signed-log feature row per sample.

    Works batched (SB3: each feature ``(B, *shape)``) and unbatched (the service: ``shape``),
    because each feature is reshaped to ``(-1, size)`` with its declared size.

    Args:
        features: ``(name, number of elements)`` of every input, in order.
        derived: ``(a, b)`` pairs added as ``signed_log(a - b)`` (scalar features only).
    """

    # Evaluated annotations (no `from __future__ import annotations` here) so TorchScript can type
    # these attributes even when a list is empty.
    names: list[str]
    sizes: list[int]
    derived_a: list[str]
    derived_b: list[str]

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

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        """``(B, out_features)`` float32 features."""
        columns: list[Tensor] = []
        for i in range(len(self.names)):  # TorchScript: no zip(strict=)
            columns.append(signed_log(obs[self.names[i]].reshape(-1, self.sizes[i])))
        for i in range(len(self.derived_a)):
            difference = obs[self.derived_a[i]].reshape(-1, 1).double() - obs[self.derived_b[i]].reshape(-1, 1).double()
            columns.append(signed_log(difference))
        return torch.cat(columns, dim=1)


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

    per_candidate: list[str]
    scalars: list[str]
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

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        """``(B, candidates, out_features)`` float32 features."""
        columns: list[Tensor] = []
        for name in self.per_candidate:
            columns.append(signed_log(obs[name].reshape(-1, self.candidates)))
        batch = columns[0].shape[0]
        for name in self.scalars:
            columns.append(signed_log(obs[name].reshape(-1, 1)).expand(batch, self.candidates))
        columns.append(self.is_current.expand(batch, self.candidates))
        return torch.stack(columns, dim=-1)


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
            logits = torch.where(legal, logits, torch.full_like(logits, -1e9))
        return torch.argmax(logits, dim=-1).to(torch.int64).reshape(-1)


def to_torchscript(module: nn.Module) -> bytes:
    """Script `module` and return the bytes the service's ``Rollout`` accepts."""
    scripted = torch.jit.script(module.eval())
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    return buffer.getvalue()


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


def export_sb3_policy(model: object, mask_feature: str = "") -> bytes:
    """TorchScript bytes of an SB3 (Maskable)PPO policy's greedy actor.

    The actor is the features extractor's encoder, then ``mlp_extractor.policy_net`` and
    ``action_net`` — exactly the modules SB3's ``predict(deterministic=True)`` runs.
    """
    policy = model.policy  # type: ignore[attr-defined]
    extractor = policy.pi_features_extractor
    if not isinstance(extractor, SignedLogExtractor):
        raise TypeError("export needs a policy trained with features_extractor_class=SignedLogExtractor")
    head = nn.Sequential(*policy.mlp_extractor.policy_net, policy.action_net)
    module = GreedyPolicy(extractor.encoder, head, mask_feature).cpu()
    return to_torchscript(module)


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
