"""fep-motion: the agent core and runtime (generative model, beliefs, policies, session loop, store, body).

It wires perception, sampling, selection and llm; those packages never import it.
"""
__version__ = "0.1.0"
