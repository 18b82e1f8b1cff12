"""Motion policies: the FEP agent and its baselines, behind one interface and a registry (see base.py)."""
from fep_motion.policies.base import (
    DECISION_REASONS,
    BeliefSummary,
    CandidateTable,
    DecisionRecord,
    MotionPolicy,
    PolicyError,
)
from fep_motion.policies.registry import (
    BUILTIN_POLICIES,
    ENTRY_POINT_GROUP,
    available_policies,
    load_policy_class,
    make_policy,
)

__all__ = [
    "BUILTIN_POLICIES",
    "DECISION_REASONS",
    "ENTRY_POINT_GROUP",
    "BeliefSummary",
    "CandidateTable",
    "DecisionRecord",
    "MotionPolicy",
    "PolicyError",
    "available_policies",
    "load_policy_class",
    "make_policy",
]
